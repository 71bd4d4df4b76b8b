"""The memory limit of the operator's own container, read from its cgroup (v2 or v1).

A container's memory limit is what the kernel enforces on the process's cgroup, so
reading it needs no setting and no downward API: ``memory.max`` (cgroup v2) or
``memory.limit_in_bytes`` (cgroup v1). Outside a container, or without a limit,
there is none (``None``): v2 says ``max``, v1 a number near 2**63.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: cgroup v1 reports "no limit" as the largest page-aligned signed 64-bit value; anything this large is no limit.
_UNLIMITED = 1 << 62


def _own_paths(proc_cgroup: str) -> tuple[str | None, str | None]:
    """The process's cgroup v2 path and its v1 memory-controller path, from ``/proc/self/cgroup``."""
    v2 = v1 = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v2, v1


def _read_limit(candidates: list[Path]) -> int | None:
    for candidate in candidates:
        with contextlib.suppress(OSError, ValueError):
            text = candidate.read_text().strip()
            if text == "max":
                return None
            value = int(text)
            return value if 0 < value < _UNLIMITED else None
    return None


def memory_limit_bytes(root: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc/self/cgroup")) -> int | None:
    """The enforced memory limit in bytes, or None when there is none (or it cannot be read).

    Inside a container (its own cgroup namespace) the process sits at its cgroup's root; on a host it
    sits in a sub-group, whose limit is looked up first.
    """
    try:
        v2, v1 = _own_paths(proc.read_text())
    except OSError:
        v2 = v1 = None
    candidates: list[Path] = []
    if v1 is not None:
        memory = root / "memory"
        candidates += [memory / v1.lstrip("/") / "memory.limit_in_bytes", memory / "memory.limit_in_bytes"]
    if v2 is not None:
        for base in (root, root / "unified"):
            candidates += [base / v2.lstrip("/") / "memory.max", base / "memory.max"]
    return _read_limit(candidates)


class MemoryLimitCollector(Collector):
    """``esml_process_memory_limit_bytes``, read at every scrape (a resized pod's new limit shows at once)."""

    def __init__(self, read: Callable[[], int | None] | None = None) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        limit = self._read() if self._read is not None else memory_limit_bytes()
        if limit is not None:
            yield GaugeMetricFamily(
                "esml_process_memory_limit_bytes",
                "The memory limit the kernel enforces on this process's container (its cgroup); absent without one.",
                value=limit,
            )
