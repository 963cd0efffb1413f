"""emopillars.train"""
