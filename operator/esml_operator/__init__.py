"""esml-operator: keeps Elasticsearch trained-model deployments at the allocation count a ModelDeployment declares."""

__version__ = "0.1.0"
