"""The garbage collector's settings at start-up (manager/collector.py), and that ``esml-operator run`` applies them
before it starts kopf."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from esml_operator.manager import collector, run


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
def test_tune_sets_the_thresholds_and_freezes_what_exists() -> None:
    gc.set_threshold(700, 10, 10)
    collector.tune()
    assert gc.get_threshold() == collector.THRESHOLDS
    assert gc.get_freeze_count() > 0


@pytest.mark.usefixtures("restored")
def test_run_tunes_the_collector_before_kopf_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, int, int]] = []

    async def operator(**_: Any) -> None:
        seen.append(gc.get_threshold())

    monkeypatch.setattr(run.kopf, "operator", operator)
    monkeypatch.setattr(run.preflight, "check", lambda settings: None)
    gc.set_threshold(700, 10, 10)
    assert run.main(["--namespace", "ns", "--event-loop", "asyncio"]) == 0
    assert seen == [collector.THRESHOLDS]
