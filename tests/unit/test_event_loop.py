"""--event-loop: uvloop where it is installed, asyncio's own loop on request, a clear error for uvloop without it."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from esml_operator.manager.eventloop import EventLoopUnavailable, loop_factory, loop_name
from esml_operator.settings import Settings


def running_loop(choice: str) -> str:
    """The name of the loop a coroutine runs on, started as the operator starts kopf's."""

    async def name() -> str:
        return loop_name(asyncio.get_running_loop())

    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(name())


@pytest.mark.parametrize(("choice", "expected"), [("auto", "uvloop"), ("uvloop", "uvloop"), ("asyncio", "asyncio")])
def test_the_chosen_loop_is_the_one_running(choice: str, expected: str) -> None:
    assert running_loop(choice) == expected


def test_without_uvloop_auto_falls_back_and_uvloop_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what a platform without its wheel sees: ImportError
    assert loop_factory("auto") is None
    assert running_loop("auto") == "asyncio"
    with pytest.raises(EventLoopUnavailable, match="--event-loop uvloop: uvloop is not installed"):
        loop_factory("uvloop")


def test_loop_names() -> None:
    for loop, name in ((uvloop.new_event_loop(), "uvloop"), (asyncio.new_event_loop(), "asyncio")):
        try:
            assert loop_name(loop) == name
        finally:
            loop.close()


def test_the_setting_defaults_to_auto_and_takes_only_the_three_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert Settings.load(["--all-namespaces"], {}).event_loop == "auto"
    assert Settings.load(["--all-namespaces"], {"ESML_EVENT_LOOP": "asyncio"}).event_loop == "asyncio"
    with pytest.raises(SystemExit):
        Settings.load(["--all-namespaces", "--event-loop", "trio"], {})
    assert "--event-loop must be auto, uvloop or asyncio, got 'trio'" in capsys.readouterr().err
