"""The REST handlers of the Elasticsearch APIs the simulator serves, and their routes."""
