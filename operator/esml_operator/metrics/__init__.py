"""Prometheus metrics, the external metrics API and the HTTP servers that serve them."""
