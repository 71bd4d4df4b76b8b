"""Inference endpoints (``_inference``): their registry, settings, create/update/delete and calls."""
