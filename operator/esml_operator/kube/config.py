"""The operator's ``kubernetes.client.ApiClient``, with the same precedence as kopf's login."""

from __future__ import annotations

from typing import Any

import kubernetes

from esml_operator.settings import Settings


def load_api_client(settings: Settings) -> Any:
    """A ``kubernetes.client.ApiClient``: the configured kubeconfig, in-cluster, or the default kubeconfig."""
    config: Any = kubernetes.config
    if settings.kubeconfig:
        return config.new_client_from_config(config_file=settings.kubeconfig)
    try:
        config.load_incluster_config()
        return kubernetes.client.ApiClient()
    except config.ConfigException:
        return config.new_client_from_config()
