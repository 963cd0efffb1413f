"""emopillars.eval"""
