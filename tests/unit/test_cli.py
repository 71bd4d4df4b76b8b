"""The ``esml-operator`` command line: --version, --help with defaults, usage errors (exit code 2)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator

import pytest

from esml_operator import __version__
from esml_operator.cli import main
from esml_operator.manager.run import configure_logging
from esml_operator.settings import Settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``run`` reads ESML_* from the real environment: none may leak in; wide help lines (no wrapping)."""
    for name in list(os.environ):
        if name.startswith("ESML_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "1000")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"esml-operator {__version__}\n"


def test_run_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--version"])  # needs no other flag
    assert info.value.code == 0
    assert capsys.readouterr().out == f"esml-operator {__version__}\n"


def test_help_lists_commands_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: esml-operator")
    for word in ("run", "--version"):
        assert word in out
    assert "simulator" not in out  # the simulator is its own distribution and command, esml-simulator


@pytest.mark.parametrize("argv", [[], ["serve"], ["simulator"]])
def test_a_wrong_command_is_a_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: esml-operator")


def _option_entries(help_text: str) -> dict[str, str]:
    """argparse's option list: each option's first flag -> its whole entry, whitespace collapsed."""
    entries: list[str] = []
    for line in help_text.splitlines():
        if line.startswith("  -"):
            entries.append(line)
        elif entries and line.startswith("   "):
            entries[-1] += " " + line
        elif entries and not line.strip():
            break  # the end of the option list
    return {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries}


def test_run_help_shows_each_flags_default_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--help"])
    assert info.value.code == 0
    entries = _option_entries(capsys.readouterr().out)
    for flag, variable, default, help in Settings.describe():
        assert flag in entries, f"{flag} is not in run --help"
        assert entries[flag].endswith(f"{help} (default: {default or 'none'}; env {variable})"), entries[flag]
    assert entries["--leader-election"].startswith("--leader-election, --no-leader-election ")
    assert entries["--request-timeout"].startswith("--request-timeout SECONDS ")
    assert "--version" in entries


def test_log_level_trace_is_a_usage_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--all-namespaces", "--log-level", "TRACE"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (
        "esml-operator run: error: --log-level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), "
        "got 'TRACE'"
    )


def test_an_environment_error_through_run_names_variable_and_flag(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ESML_LIVENESS_ENDPOINT", "garbage")
    with pytest.raises(SystemExit) as info:
        main(["run", "--all-namespaces"])
    assert info.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("esml-operator run: error: --liveness-endpoint 'garbage' must start with http://")
    assert last.endswith("(from the environment: ESML_LIVENESS_ENDPOINT)")


@pytest.fixture
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("_restore_root_logger")
@pytest.mark.parametrize(("given", "level"), [("debug", logging.DEBUG), ("Critical", logging.CRITICAL)])
def test_a_level_in_any_case_configures_logging(given: str, level: int) -> None:
    configure_logging(Settings(all_namespaces=True, log_level=given))
    assert logging.getLogger().level == level


@pytest.mark.usefixtures("_restore_root_logger")
def test_run_refuses_uvloop_without_it_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert main(["run", "--all-namespaces", "--event-loop", "uvloop"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "esml-operator run: error: --event-loop uvloop: uvloop is not installed (the operator depends on it on "
        "Linux only); choose --event-loop auto or asyncio"
    ]
