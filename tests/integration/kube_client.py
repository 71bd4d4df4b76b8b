"""The operator's own Kubernetes client (kube/config.py) for a kubeconfig, as the tests' code under test uses it."""

from __future__ import annotations

from pathlib import Path

from esml_operator.kube.config import ApiClient, load_api_client
from esml_operator.settings import Settings


async def operator_client(kubeconfig: Path) -> ApiClient:
    return await load_api_client(Settings(namespaces=("default",), kubeconfig=str(kubeconfig)))
