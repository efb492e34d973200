"""scalemath.report"""
