"""Every unit test that delivers bodies through the registry also checks that no reader uses a field the
registry drops (``controller/memory.py``'s ``trimmed``; see tests/unit/trim_guard.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from esml_operator.controller import registry
from tests.unit.trim_guard import TrimGuard


@pytest.fixture(autouse=True)
def trim_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[TrimGuard]:
    guard = TrimGuard()
    monkeypatch.setattr(registry, "trimmed", guard.trimmed)
    yield guard
    assert guard.dropped() == set(), "a reader uses a field the registry drops (controller/memory.py trimmed)"
