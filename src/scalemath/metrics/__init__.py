"""scalemath.metrics"""
