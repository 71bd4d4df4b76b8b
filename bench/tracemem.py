"""``python -m bench.tracemem OUT -- run ARGS...``: the operator (``esml_operator.cli``) under ``tracemalloc``.

On SIGUSR1 it writes ``OUT/snapshot-<n>.json``: the bytes and blocks still allocated, each charged to the
innermost frame of its traceback that belongs to a known package (``esml_operator`` by module, kopf, aiohttp,
...), else to the innermost frame's module. So a dict that ``json`` builds for kopf's watch stream is kopf's,
and a body the operator's registry keeps is the registry's. ``python -m bench --profile-memory DIR`` runs
figure 7's operator under it and takes a snapshot before the first resource and one with all of them; the
difference per resource, by owner, is in the figure's notes (:func:`per_resource`).

tracemalloc slows the operator several times over: a profiling run's other figures are not comparable.
"""

from __future__ import annotations

import importlib
import json
import runpy
import signal
import sys
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

FRAMES = 30
RUN_MODULE = "esml_operator.handlers.run"  # what ``esml-operator run`` imports (kopf, aiohttp, the client)
PACKAGES = ("kopf", "aiohttp", "httpx", "httpcore", "kubernetes", "cachetools", "prometheus_client", "yaml", "uvloop")


def owner(filename: str) -> str | None:
    parts = Path(filename).parts
    if "esml_operator" in parts:
        return "/".join(parts[parts.index("esml_operator") :])
    for name in PACKAGES:
        if name in parts:
            return name
    return None


def charge(traceback: tracemalloc.Traceback) -> str:
    """The innermost known package or operator module in the traceback, else the innermost frame's module."""
    for frame in reversed(traceback):  # most recent call last: walk from the allocation outwards
        found = owner(frame.filename)
        if found is not None:
            return found
    return Path(traceback[-1].filename).stem if len(traceback) else "?"


def summarize(snapshot: tracemalloc.Snapshot) -> dict[str, list[int]]:
    """owner -> [bytes, blocks]."""
    size: Counter[str] = Counter()
    blocks: Counter[str] = Counter()
    for trace in snapshot.traces:
        who = charge(trace.traceback)
        size[who] += trace.size
        blocks[who] += 1
    return {who: [size[who], blocks[who]] for who in size}


def per_resource(before: Mapping[str, list[int]], after: Mapping[str, list[int]], count: int) -> dict[str, float]:
    """Bytes per resource by owner (after - before, over ``count``), largest first, shrinking owners left out."""
    grown = {who: (after[who][0] - before.get(who, [0, 0])[0]) / count for who in after}
    return dict(sorted(((w, b) for w, b in grown.items() if b > 0), key=lambda item: -item[1]))


def main(argv: list[str]) -> None:
    out, _, rest = Path(argv[0]), argv[1], argv[2:]
    out.mkdir(parents=True, exist_ok=True)
    taken = 0

    def dump(signum: int, frame: FrameType | None) -> None:
        nonlocal taken
        snapshot = tracemalloc.take_snapshot()
        path = out / f"snapshot-{taken}.json"
        path.with_suffix(".tmp").write_text(json.dumps(summarize(snapshot)))
        path.with_suffix(".tmp").rename(path)
        taken += 1

    signal.signal(signal.SIGUSR1, dump)
    # Imported before tracing starts: the libraries' import-time memory is the same with 0 or N resources,
    # and tracing every import takes minutes on a busy machine.
    importlib.import_module(RUN_MODULE)
    tracemalloc.start(FRAMES)
    sys.argv = ["esml-operator", *rest]
    runpy.run_module("esml_operator.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
