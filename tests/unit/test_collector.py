"""The garbage collector at start-up (manager/collector.py), and that ``esml-operator run`` sets it before kopf
starts."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from esml_operator.manager import collector, run


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
def test_tune_freezes_what_exists() -> None:
    assert gc.get_freeze_count() == 0
    collector.tune()
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("unfrozen")
def test_run_tunes_the_collector_before_kopf_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    async def operator(**_: Any) -> None:
        seen.append(gc.get_freeze_count())

    monkeypatch.setattr(run.kopf, "operator", operator)
    monkeypatch.setattr(run.preflight, "check", lambda settings: None)
    assert run.main(["--namespace", "ns", "--event-loop", "asyncio"]) == 0
    assert seen and seen[0] > 0
