"""Figures the faults suite measures, one JSON object per line in a results directory.

Tests call :meth:`Recorder.record`; ``python -m tests.faults.report`` reads the
directory and prints the table that ``make reliability-report`` shows. The
directory is ``$ESML_FAULTS_RESULTS`` (``make reliability-report`` empties it
first), else ``.local/faults-results`` in the repository.

Known keys (all optional): ``scenario``; ``faults`` (faults injected);
``resources`` and ``converged`` (resources that had to converge, and did);
``outages`` (``[{"name", "seconds", "requests", "connects"}]``: what reached
Elasticsearch, or the proxy in front of it, during each outage); ``gaps``
(seconds, the longest time a resource that should be served went without a
pass); ``takeovers`` (seconds from SIGKILL to the new leader's first request);
``trials`` (``{"seed", "run", "converged", "writes", "wrong", "repeats", "regressions"}``); ``repeats``
(idempotent repeats of a right call elsewhere); ``leaks``
(``{"hits", "places", "bytes"}``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS_FILE = "results.jsonl"


def results_dir() -> Path:
    return Path(os.environ.get("ESML_FAULTS_RESULTS") or REPO / ".local" / "faults-results")


class Recorder:
    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or results_dir()
        self._lock = threading.Lock()

    def record(self, test: str, **fields: Any) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"test": test, "time": time.time(), **fields}, sort_keys=True)
        with self._lock, (self.dir / RESULTS_FILE).open("a") as out:
            out.write(line + "\n")


def load(directory: Path | None = None) -> list[dict[str, Any]]:
    path = (directory or results_dir()) / RESULTS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
