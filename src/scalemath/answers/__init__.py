"""scalemath.answers"""
