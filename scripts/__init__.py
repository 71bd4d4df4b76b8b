"""Maintainer tools that are not part of the operator package (``python -m scripts.release``)."""
