"""Read YAML REST test files (the format Elasticsearch's clients share) into cases, one per test section.

A file holds YAML documents: an optional ``setup`` (and ``teardown``) section
and one document per test, ``{"<test name>": [step, ...]}``. Every step is a
one-key mapping (``do``, ``match``, ``set``, ...). A file without a test is an
error, so a bug here cannot make a suite collect nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Step = dict[str, Any]


@dataclass(frozen=True)
class Case:
    file: Path
    name: str
    steps: list[Step]
    setup: list[Step] = field(default_factory=list)
    teardown: list[Step] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.file.stem}::{self.name}"


def _steps(where: str, raw: Any) -> list[Step]:
    if not isinstance(raw, list) or not all(isinstance(s, dict) and len(s) == 1 for s in raw):
        raise ValueError(f"{where}: expected a list of one-key steps")
    return raw


def load_file(path: Path) -> list[Case]:
    setup: list[Step] = []
    teardown: list[Step] = []
    tests: list[tuple[str, list[Step]]] = []
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"{path.name}: every document must be a mapping")
        for name, raw in doc.items():
            steps = _steps(f"{path.name}: {name}", raw)
            if name == "setup":
                setup = steps
            elif name == "teardown":
                teardown = steps
            else:
                tests.append((str(name), steps))
    if not tests:
        raise ValueError(f"{path.name}: no test sections")
    names = [n for n, _ in tests]
    if len(set(names)) != len(names):
        raise ValueError(f"{path.name}: duplicate test names")
    return [Case(path, name, steps, setup, teardown) for name, steps in tests]


def load_dir(directory: Path) -> list[Case]:
    files = sorted(directory.glob("*.yml"))
    if not files:
        raise ValueError(f"no *.yml scenarios in {directory}")
    return [case for path in files for case in load_file(path)]
