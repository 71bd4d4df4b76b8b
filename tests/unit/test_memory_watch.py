"""The operator warns once when its resident memory nears its container's limit, and again only after it dropped."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from esml_operator.metrics.memory import NEAR, MemoryAlarm, MemoryWatch, resident_bytes
from tests.unit.runtime_fakes import until

MIB = 1024 * 1024
LIMIT = 256 * MIB


def test_the_alarm_rises_once_and_clears_once() -> None:
    alarm = MemoryAlarm()
    readings = [100, 229, 231, 240, 250, 229, 200, 235, 236]
    changes = [alarm.update(mib * MIB, LIMIT) for mib in readings]
    assert changes == [None, None, True, None, None, False, None, True, None]


def test_no_limit_or_no_reading_is_no_alarm() -> None:
    alarm = MemoryAlarm()
    assert alarm.update(10**12, None) is None
    assert alarm.update(None, LIMIT) is None
    assert not alarm.raised


def test_the_warning_names_the_memory_the_limit_and_the_resource_count(caplog: pytest.LogCaptureFixture) -> None:
    readings = iter([200 * MIB, 240 * MIB, 245 * MIB, 100 * MIB, 240 * MIB])
    watch = MemoryWatch(lambda: 2400, resident=lambda: next(readings), limit=lambda: LIMIT)
    with caplog.at_level(logging.INFO, logger="esml_operator.metrics.memory"):
        for _ in range(5):
            watch.check()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in lines] == ["WARNING", "INFO", "WARNING"]
    assert lines[0][1].startswith(
        "memory near the limit: resident 240 MiB, 94% of the container's limit 256 MiB, with 2400 ModelDeployments"
    )
    assert "docs/operations/sizing.md" in lines[0][1]
    assert lines[1][1] == "memory back under 90% of the limit: resident 100 MiB, 39% of the container's limit 256 MiB"


async def test_the_watch_checks_until_stopped() -> None:
    checked: list[int] = []

    def resident() -> int:
        checked.append(1)
        return MIB

    watch = MemoryWatch(lambda: 0, interval=0.01, resident=resident, limit=lambda: LIMIT)
    watch.start()
    await until(lambda: len(checked) >= 3, what="three checks")
    await watch.stop()
    await watch.stop()  # stopping twice (the operator's clean-up after a failed start) is fine


def test_the_resident_memory_of_this_process_is_read(tmp_path: Path) -> None:
    rss = resident_bytes()
    assert rss is not None and rss > 10 * MIB  # a Python process with pytest loaded
    (tmp_path / "statm").write_text("1000 25 3 4 0 5 0\n")
    assert resident_bytes(tmp_path / "statm") == 25 * os.sysconf("SC_PAGE_SIZE")
    assert resident_bytes(tmp_path / "missing") is None


def test_the_warning_threshold_is_the_alerts() -> None:
    from tests.unit.test_prometheus_rules import alerts

    assert str(alerts()["EsmlOperatorMemoryNearLimit"]["expr"]).endswith(f"> {NEAR}")
