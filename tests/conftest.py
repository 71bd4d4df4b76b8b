"""Shared fixtures.

Tests under tests/integration, tests/e2e and tests/faults are marked ``cluster`` automatically
(and those under tests/faults ``faults``)
and get a real kube-apiserver (one per session, that is one per pytest-xdist worker; CRDs installed once). Everything
else must run without a cluster: ``make unit`` deselects the marker.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.runner import REPO, ControlPlane

CLUSTER_DIRS = ("integration", "e2e", "faults")
# Under pytest-xdist (make test: one control plane per worker), whole files are handed out in
# collection order, so the slowest tiers go first and the many short unit files fill the gaps at
# the end instead of a long e2e file running alone at the tail.
TIER_ORDER = ("faults", "e2e", "integration", "packaging", "simulator", "client", "repo", "unit")
# The longest single files go before every tier: a cold make test ran the quick bench (about 5 minutes) last,
# alone on one worker while the other sat idle.
LONGEST_FILES = (
    "e2e/test_bench_quick.py",
    "e2e/test_demo_autoscaling.py",
    "e2e/test_demo.py",
    "e2e/test_upgrade.py",
    "e2e/test_hpa.py",
    "e2e/test_capacity.py",
)


def _tier_dir(item: pytest.Item) -> str:
    """The folder under tests/ that holds the item's file."""
    parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
    return parts[0] if parts else ""


def _tier(item: pytest.Item) -> tuple[int, int]:
    relative = Path(str(item.fspath)).relative_to(REPO / "tests").as_posix()
    if relative in LONGEST_FILES:
        return (0, LONGEST_FILES.index(relative))
    tier = _tier_dir(item)
    return (1, TIER_ORDER.index(tier) if tier in TIER_ORDER else len(TIER_ORDER))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=_tier)  # stable: the order inside a tier stays the files' own
    for item in items:
        tier = _tier_dir(item)
        if tier in CLUSTER_DIRS:
            item.add_marker(pytest.mark.cluster)
        if tier == "e2e":
            item.add_marker(pytest.mark.e2e)
        if tier == "faults":
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
