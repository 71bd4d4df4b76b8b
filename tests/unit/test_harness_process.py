"""harness.process (stopping children, watching a piped one) and harness.commands (the two command lines)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from esml_operator.settings import Settings
from esml_simulator.cli import build_parser, configs_from_args
from harness.commands import OPERATOR, SIMULATOR, operator_argv, simulator_argv
from harness.polling import wait_for
from harness.process import Piped, Process, _wait_gone, stop_pid

IGNORES_SIGTERM = (
    "import signal, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); sys.stdin.read()"
)


def test_a_piped_child_that_exits_ends_the_wait_with_its_stderr() -> None:
    script = "import sys; sys.stderr.write('unknown model\\n'); sys.exit(3)"
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    try:
        with pytest.raises(RuntimeError, match=r"(?s)simulator exited while waiting for its ready file.*unknown model"):
            wait_for(lambda: False, timeout=30, what="its ready file", processes=[Piped("simulator", child)])
    finally:
        child.wait(timeout=10)
        assert child.stderr is not None
        child.stderr.close()


def test_a_process_gets_the_environment_it_is_given_and_ours_stays(tmp_path: Path) -> None:
    script = "import os; print(os.environ.get('ESML_PROBE'), os.environ.get('HOME'))"
    env = {"ESML_PROBE": "child-only", "HOME": "/nowhere"}
    argv = [sys.executable, "-c", script]
    proc = Process("probe", argv, tmp_path / "probe.log", detach=False, pid_file=tmp_path / "probe.pid", env=env)
    try:
        assert proc.popen.wait(timeout=30) == 0
    finally:
        proc.stop()
    assert proc.log.read_text() == "child-only /nowhere\n"
    assert "ESML_PROBE" not in os.environ


def _ignoring_sigterm() -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", IGNORES_SIGTERM],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "ready\n"  # its handler is in place
    return child


@pytest.mark.parametrize("reaped", [True, False], ids=["own child, reaped", "by pid, a zombie counts as gone"])
def test_stop_pid_kills_what_ignores_sigterm(reaped: bool) -> None:
    child = _ignoring_sigterm()
    try:
        stop_pid(child.pid, timeout=0.3, reap=child if reaped else None)  # type: ignore[arg-type]
        assert reaped or _wait_gone(child.pid, 5.0, None), "an unreaped zombie is gone"
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdin, child.stdout):
            assert stream is not None
            stream.close()


def test_the_simulator_command_line_is_one_the_simulator_accepts(tmp_path: Path) -> None:
    argv = simulator_argv(
        tmp_path / "ready.json",
        nodes=3,
        allocation_delay=0.5,
        models=["m1", "m2"],
        tls=(tmp_path / "es.crt", tmp_path / "es.key"),
        extra=["--cluster-name", "c"],
    )
    assert tuple(argv[:3]) == SIMULATOR
    args = build_parser().parse_args(argv[3:])
    assert (args.port, args.ready_file, args.nodes, args.model) == (0, str(tmp_path / "ready.json"), 3, ["m1", "m2"])
    assert (args.tls_cert, args.tls_key, args.cluster_name) == (str(tmp_path / "es.crt"), str(tmp_path / "es.key"), "c")
    (config,) = configs_from_args(args, environ={})
    assert config.allocation_delay == 0.5


def test_the_operator_command_line_is_one_the_operator_accepts(tmp_path: Path) -> None:
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")  # run checks that the file exists
    argv = operator_argv(
        tmp_path / "kubeconfig",
        ["ml", "search"],
        resync_interval=2.0,
        health_port=18080,
        metrics_port=18081,
        extra=["--lease-namespace", "default"],
    )
    assert tuple(argv[:3]) == OPERATOR and argv[3] == "run"
    settings = Settings.load(argv[4:], environ={})
    assert settings.namespaces == ("ml", "search")
    assert (settings.kubeconfig, settings.resync_interval) == (str(tmp_path / "kubeconfig"), 2.0)
    assert settings.liveness_endpoint == "http://127.0.0.1:18080/healthz"
    assert settings.metrics_endpoint == "http://127.0.0.1:18081/metrics"
    assert (settings.log_level, settings.lease_namespace) == ("INFO", "default")


def test_no_namespaces_means_all() -> None:
    argv = operator_argv(Path("kc"), [], resync_interval=1.0, health_port=1, metrics_port=2)
    assert "--all-namespaces" in argv and "--namespace" not in argv
