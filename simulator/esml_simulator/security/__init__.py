"""Authentication (users, API keys) and cluster-privilege authorization."""
