"""scalemath.scaling"""
