"""scalemath.experiments"""
