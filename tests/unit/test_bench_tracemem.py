"""bench.tracemem: each allocation is charged to the innermost known package or operator module that made it."""

from __future__ import annotations

import tracemalloc

from bench.tracemem import charge, owner, per_resource


def _traceback(*files: str) -> tracemalloc.Traceback:
    """Frames given outermost first (tracemalloc's own order is most recent first; Traceback reverses it)."""
    return tracemalloc.Traceback(tuple((f, 1) for f in reversed(files)))


def test_the_innermost_known_frame_owns_the_allocation() -> None:
    site = "/venv/lib/python3.11/site-packages"
    tb = _traceback(
        "/usr/lib/python3.11/asyncio/events.py",
        f"{site}/kopf/_core/reactor/queueing.py",
        f"{site}/aiohttp/streams.py",
        "/usr/lib/python3.11/json/decoder.py",
    )
    assert charge(tb) == "aiohttp"
    ours = _traceback(f"{site}/kopf/x.py", "/repo/operator/esml_operator/controller/registry.py", "/usr/lib/copy.py")
    assert charge(ours) == "esml_operator/controller/registry.py"
    assert charge(_traceback("/usr/lib/python3.11/asyncio/tasks.py")) == "tasks"
    assert owner("/usr/lib/python3.11/json/decoder.py") is None


def test_growth_per_resource_by_owner() -> None:
    before = {"kopf": [1000, 10], "esml_operator/x.py": [500, 5], "ssl": [900, 1]}
    after = {"kopf": [3000, 30], "esml_operator/x.py": [8500, 50], "ssl": [100, 1], "new": [400, 2]}
    assert per_resource(before, after, 100) == {"esml_operator/x.py": 80.0, "kopf": 20.0, "new": 4.0}
