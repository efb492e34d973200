"""scalemath.training"""
