"""Inference benchmark: ``python -m inference.bench`` (time to first token, decode speed, memory, roofline)."""
