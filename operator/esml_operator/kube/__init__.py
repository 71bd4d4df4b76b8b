"""Every Kubernetes API call the operator makes itself (kopf keeps its own watch and login)."""
