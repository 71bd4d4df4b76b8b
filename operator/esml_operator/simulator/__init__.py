"""A faithful Elasticsearch ML trained-model deployment simulator (a real HTTP server)."""
