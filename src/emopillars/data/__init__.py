"""emopillars.data"""
