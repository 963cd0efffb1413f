"""emopillars.synth"""
