"""``python -m bench.tracemem OUT -- run ARGS...``: the operator (``esml_operator.cli``) under ``tracemalloc``.

The first SIGUSR1 starts tracing (so the imports and the start-up, which take minutes traced on a busy machine,
are not) and writes an empty ``OUT/snapshot-0.json``; each later one writes ``OUT/snapshot-<n>.json``: the bytes
and blocks allocated since tracing began and still alive, each charged to the innermost frame of its traceback
that belongs to a known package (``esml_operator`` by module, kopf, aiohttp, ...), else to the innermost frame's
module. So a dict that ``json`` builds for kopf's watch stream is kopf's,
and a body the operator's registry keeps is the registry's. ``python -m bench --profile-memory DIR`` runs
figure 7's operator under it, starts tracing before the first resource and takes a snapshot with all of them:
what they cost, per resource and by owner, is in the figure's notes (:func:`per_resource`).

tracemalloc slows the operator several times over: a profiling run's other figures are not comparable.
"""

from __future__ import annotations

import functools
import json
import runpy
import signal
import sys
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

FRAMES = 12
PACKAGES = ("kopf", "aiohttp", "httpx", "httpcore", "kubernetes", "cachetools", "prometheus_client", "yaml", "uvloop")


@functools.cache
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
    for stat in snapshot.statistics("traceback"):  # one per distinct traceback: far fewer than the blocks
        who = charge(stat.traceback)
        size[who] += stat.size
        blocks[who] += stat.count
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
        """The first signal starts tracing (and writes an empty snapshot); each later one writes what is traced."""
        nonlocal taken
        if tracemalloc.is_tracing():
            summary = summarize(tracemalloc.take_snapshot())
        else:
            tracemalloc.start(FRAMES)
            summary = {}
        path = out / f"snapshot-{taken}.json"
        path.with_suffix(".tmp").write_text(json.dumps(summary))
        path.with_suffix(".tmp").rename(path)
        taken += 1

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["esml-operator", *rest]
    runpy.run_module("esml_operator.cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
