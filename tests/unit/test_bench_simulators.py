"""bench.procs.wait_simulators: each cluster of a process serving several (``--clusters``) gets its own URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.procs import Simulator, wait_simulators


class _Alive:
    name = "sim"

    def alive(self) -> bool:
        return True


async def test_clusters_of_one_process_get_their_own_urls(tmp_path: Path) -> None:
    proc: Any = _Alive()
    several, single = tmp_path / "several.json", tmp_path / "single.json"
    several.write_text(
        json.dumps({"url": "https://127.0.0.1:1", "urls": ["https://127.0.0.1:1", "https://127.0.0.1:2"]})
    )
    single.write_text(json.dumps({"url": "https://127.0.0.1:3"}))  # a simulator without --clusters
    sims = [Simulator(f"s-{k}", proc, several, tmp_path, index=k) for k in range(2)]
    sims.append(Simulator("one", proc, single, tmp_path))
    await wait_simulators(sims)
    assert [s.url for s in sims] == ["https://127.0.0.1:1", "https://127.0.0.1:2", "https://127.0.0.1:3"]
