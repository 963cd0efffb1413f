"""emopillars.report"""
