"""scalemath.datasets"""
