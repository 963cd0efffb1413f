"""Emo Pillars: distil an LLM's knowledge of emotion into small encoders."""

__version__ = "0.1.0"
