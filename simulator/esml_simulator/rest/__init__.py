"""Elasticsearch's REST layer in front of the model: the aiohttp app, request parsing, path matching."""
