"""In a pod: kopf's login from the ServiceAccount, at the API server address the pod is given.

kopf's ``login_with_service_account`` always connects to ``https://kubernetes.default.svc``,
which needs cluster DNS. client-go, the kubernetes client (this operator's other connection to
the API server) and every in-cluster client take the address from ``KUBERNETES_SERVICE_HOST``
and ``KUBERNETES_SERVICE_PORT`` instead, which the kubelet sets in every container: a pod
without cluster DNS (``hostNetwork``, ``dnsPolicy: Default``, a cluster whose DNS is down) reaches
only that address. The login keeps kopf's token, CA and namespace and takes the server from those
variables when both are set (found by ``make test-image``: the image run with a test API server).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

import kopf

from esml_operator.kube.config import service_url


def login_in_cluster(kwargs: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> kopf.ConnectionInfo | None:
    """kopf's service-account login (None outside a pod), at the address the pod's environment names."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(**kwargs)
    server = service_url(os.environ if environ is None else environ)
    if info is None or server is None:
        return info
    return dataclasses.replace(info, server=server)
