"""The Elasticsearch client (httpx) and its error vocabulary.

Kept empty on purpose: importing a submodule must not drag httpx into the pure layer.
"""
