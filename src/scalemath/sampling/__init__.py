"""Sampling engines behind one interface (see engine.py)."""
