"""Shared fixtures.

Tests under tests/integration, tests/e2e and tests/faults are marked ``cluster`` automatically
(and those under tests/faults ``faults``)
and get a real kube-apiserver (one per session, CRDs installed once). Everything
else must run without a cluster: ``make unit`` deselects the marker.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controlplane.runner import REPO, ControlPlane

CLUSTER_DIRS = ("integration", "e2e", "faults")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts and parts[0] in CLUSTER_DIRS:
            item.add_marker(pytest.mark.cluster)
        if parts and parts[0] == "e2e":
            item.add_marker(pytest.mark.e2e)
        if parts and parts[0] == "faults":
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    state = Path(tempfile.mkdtemp(prefix="esml-cp-"))
    plane = ControlPlane(state)
    plane.start()
    try:
        yield plane
    finally:
        plane.cleanup()


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace per test. Without a controller-manager it stays Terminating after deletion."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)
