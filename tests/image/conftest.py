"""make test-image: the image ``make image`` built, run as the install's Deployment runs it.

Every test here is marked ``image``: ``make test`` and ``make unit`` deselect the marker, and
``make test-image`` (which builds the image first) runs exactly this tier. A missing podman or
image is a failure, never a skip.
"""

from __future__ import annotations

# The e2e tier's fixtures: a namespace with kubectl helpers, the simulator on loopback, its Secrets.
from tests.e2e.conftest import es_secrets, es_url, kube, simulator, simulator_factory

__all__ = ["es_secrets", "es_url", "kube", "simulator", "simulator_factory"]
