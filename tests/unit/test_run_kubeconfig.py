"""``esml-operator run`` without a usable kubeconfig stops at once: exit status 2 and one line (issue 17).

Each case runs the real command in a subprocess with an empty HOME and no
in-cluster service account, so nothing of the machine's own configuration
leaks in. Before the fix the process printed a traceback and kept running
(kopf retried the login every 60 s), so a case that hangs fails on the timeout.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.commands import OPERATOR

TOKEN = "s3cr3t-token-never-shown"
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {{server: "https://127.0.0.1:1"}}
contexts:
- name: local
  context: {{cluster: local, user: admin}}
current-context: {current}
users:
- name: admin
  user: {{token: {token}}}
"""
TIMEOUT = 120.0  # generous: the machine is shared; the fixed command ends in about a second


def _run(home: Path, *flags: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), **(environ or {})}
    argv = [*OPERATOR, "run", "--namespace", "ml", "--liveness-endpoint="]
    return subprocess.run(
        [*argv, "--metrics-endpoint=", *flags], env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert line.startswith("esml-operator run: error: "), line
    for word in ("--kubeconfig", "KUBECONFIG", *words):
        assert word in line, (word, line)
    assert TOKEN not in line
    assert result.stdout == ""
    return line


def test_no_kubeconfig_and_not_in_a_cluster(tmp_path: Path) -> None:
    line = _assert_one_line_error(_run(tmp_path), "~/.kube/config")
    assert "not in a cluster" in line


def test_kubeconfig_variable_names_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    _assert_one_line_error(_run(tmp_path, environ={"KUBECONFIG": str(missing)}), str(missing))


def test_kubeconfig_variable_names_an_unreadable_file(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory"  # unreadable as a file, even for root
    directory.mkdir()
    _assert_one_line_error(_run(tmp_path, environ={"KUBECONFIG": str(directory)}), str(directory))


@pytest.mark.parametrize("how", ["flag", "variable", "home"])
def test_current_context_that_does_not_exist(tmp_path: Path, how: str) -> None:
    path = tmp_path / ".kube" / "config" if how == "home" else tmp_path / "kubeconfig.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(KUBECONFIG.format(current="staging", token=TOKEN))
    flags = ("--kubeconfig", str(path)) if how == "flag" else ()
    environ = {"KUBECONFIG": str(path)} if how == "variable" else {}
    _assert_one_line_error(_run(tmp_path, *flags, environ=environ), "staging")


@pytest.mark.parametrize(
    "content", [b"users: [\n  token: " + TOKEN.encode() + b": : x\n", b"\xff\xfe not text", b""], ids=str
)
def test_a_kubeconfig_that_is_not_one(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "kubeconfig.yaml"
    path.write_bytes(content)
    _assert_one_line_error(_run(tmp_path, "--kubeconfig", str(path)), str(path))
