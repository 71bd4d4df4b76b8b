"""The command keeps its state by default: a restarted simulator still knows its API keys and deployments.

Real processes on a fixed loopback port, ``XDG_STATE_HOME`` pointed at the test's directory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from esml_simulator import Simulator
from esml_simulator.cli import build_parser, state_file_of
from esml_simulator.state_file import default_state_file
from harness.commands import SIMULATOR
from harness.runner import free_port

from .conftest import MODEL, SimFactory
from .test_cli import ROOT, _wait_for

ELASTIC = ("elastic", "changeme")


class Launcher:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
        self.started: list[subprocess.Popen[str]] = []

    def __call__(self, *flags: str) -> tuple[subprocess.Popen[str], str]:
        ready = self.tmp / f"ready-{len(self.started)}.json"
        argv = [*SIMULATOR, "--ready-file", str(ready), "--model", MODEL]
        argv += ["--model-size", "2kb", "--allocation-delay", "0", *flags]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=self.env)
        self.started.append(proc)
        return proc, str(_wait_for(ready, proc)["url"])

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path)
    yield launcher
    launcher.close()


def create_key_and_deployment(url: str) -> dict[str, str]:
    with httpx.Client(base_url=url, auth=ELASTIC, timeout=10) as es:
        key = es.post("/_security/api_key", json={"name": "esml-operator"}).json()
        headers = {"Authorization": f"ApiKey {key['encoded']}"}
        started = es.post(f"/_ml/trained_models/{MODEL}/deployment/_start", auth=None, headers=headers)
        assert started.status_code == 200, started.text
    return headers


def authenticate(url: str, headers: dict[str, str]) -> int:
    return httpx.get(f"{url}/_security/_authenticate", headers=headers, timeout=10).status_code


def deployments(url: str) -> list[str]:
    stats = httpx.get(f"{url}/_ml/trained_models/_stats", auth=ELASTIC, timeout=10).json()["trained_model_stats"]
    return [s["deployment_stats"]["deployment_id"] for s in stats if "deployment_stats" in s]


def test_a_killed_simulator_comes_back_with_its_keys_and_deployments(launch: Launcher, tmp_path: Path) -> None:
    port = str(free_port())
    first, url = launch("--port", port)
    headers = create_key_and_deployment(url)
    first.send_signal(signal.SIGKILL)  # no shutdown hook runs: every change was already written
    first.wait(timeout=10)
    second, again = launch("--port", port)
    assert again == url
    assert authenticate(url, headers) == 200
    assert deployments(url) == [MODEL]
    path = tmp_path / "state" / "esml-simulator" / port / "state.json"
    assert [d["deployment_id"] for d in json.loads(path.read_text())["deployments"]] == [MODEL]
    second.send_signal(signal.SIGTERM)
    _, err = second.communicate(timeout=10)
    assert f"esml-simulator: state in {path}" in err


def test_ephemeral_starts_fresh_and_writes_nothing(launch: Launcher, tmp_path: Path) -> None:
    port = str(free_port())
    first, url = launch("--port", port, "--ephemeral")
    headers = create_key_and_deployment(url)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=10) == 0
    launch("--port", port, "--no-state")
    assert authenticate(url, headers) == 401
    assert deployments(url) == []
    assert not (tmp_path / "state").exists()


def test_port_zero_keeps_no_state_unless_told(launch: Launcher, tmp_path: Path) -> None:
    proc, url = launch("--port", "0")
    create_key_and_deployment(url)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert not (tmp_path / "state").exists()


def test_a_state_of_a_newer_version_is_refused_with_the_way_out(launch: Launcher, tmp_path: Path) -> None:
    path = tmp_path / "kept.json"
    proc, _ = launch("--port", "0", "--state-file", str(path), "--es-version", "9.1.0")
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    argv = [*SIMULATOR, "--port", "0", "--state-file", str(path)]
    refused = subprocess.run([*argv, "--es-version", "8.19.0"], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"esml-simulator: {path} holds the state of a simulated Elasticsearch 9.1.0, newer than 8.19.0, and "
        "Elasticsearch cannot be downgraded: start with --es-version 9.1.0 or later, choose another --state-file, "
        "run with --ephemeral, or delete the file"
    )
    launch("--port", "0", "--state-file", str(path), "--es-version", "9.2.0")  # an upgrade keeps the state


def test_an_unwritable_state_directory_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    argv = [*SIMULATOR, "--port", "0", "--state-file", str(blocker / "s.json")]
    refused = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert refused.returncode == 1
    assert f"cannot write the state file {blocker / 's.json'}" in refused.stderr
    assert "--ephemeral" in refused.stderr


async def test_every_change_is_written_at_once(make_sim: SimFactory, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    sim: Simulator = await make_sim(state_file=str(path))
    async with httpx.AsyncClient(base_url=sim.url, auth=ELASTIC) as es:
        await es.post("/_security/api_key", json={"name": "k"})
        assert len(json.loads(path.read_text())["api_keys"]) == 1
        before = path.stat().st_mtime_ns
        await es.get("/_ml/trained_models/_stats")  # a read changes nothing and writes nothing
        await es.post("/_sim/_tick")  # a write that changes nothing is not written either
        assert path.stat().st_mtime_ns == before


async def test_a_second_simulator_on_a_taken_port_leaves_the_state_alone(make_sim: SimFactory, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first: Simulator = await make_sim(state_file=str(path))
    async with httpx.AsyncClient(base_url=first.url, auth=ELASTIC) as es:
        await es.post("/_security/api_key", json={"name": "k"})
    kept = path.read_bytes()
    second = Simulator(port=first.port, fake_clock=True, state_file=str(path))
    second.clock.advance(60)  # its copy of the state would differ (timestamps move with the clock)
    with pytest.raises(OSError):
        await second.start()
    assert path.read_bytes() == kept


def test_the_default_state_file_is_per_port_under_xdg_state_home(tmp_path: Path) -> None:
    xdg = {"XDG_STATE_HOME": str(tmp_path), "HOME": "h"}
    assert default_state_file(9200, xdg) == tmp_path / "esml-simulator" / "9200" / "state.json"
    for env in ({"HOME": "h"}, {"XDG_STATE_HOME": "relative", "HOME": "h"}):  # a relative XDG path is ignored
        assert default_state_file(9201, env) == Path("h/.local/state/esml-simulator/9201/state.json")
    assert default_state_file(0, xdg) is None


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], "h/.local/state/esml-simulator/9200/state.json"),
        (["--port", "9300"], "h/.local/state/esml-simulator/9300/state.json"),
        (["--ephemeral"], None),
        (["--port", "0"], None),
        (["--state-file", "here.json", "--port", "0"], "here.json"),
    ],
)
def test_state_flags(flags: list[str], expected: str | None) -> None:
    assert state_file_of(build_parser().parse_args(flags), {"HOME": "h"}) == expected


def test_state_file_and_ephemeral_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--state-file", "x.json", "--ephemeral"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
