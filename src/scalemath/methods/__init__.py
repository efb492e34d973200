"""scalemath.methods"""
