"""``make demo`` is a smoke test: it must succeed, say what it shows, and leave nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.polling import wait_for
from harness.runner import REPO


def _processes_mentioning(text: str) -> list[str]:
    """Live (non-zombie) processes whose command line contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


def _demo(state_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.demo", "--dir", str(state_dir), *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_gone(state_dir: Path, what: str) -> None:
    """Until no process mentions ``state_dir`` (fails with the ones left after 10 seconds)."""

    def gone() -> bool:
        left = _processes_mentioning(str(state_dir))
        assert not left, f"still running: {left}"
        return True

    wait_for(gone, timeout=10, interval=0.1, what=what)


def test_demo_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    started = time.monotonic()
    demo = _demo(state_dir)
    output, _ = demo.communicate(timeout=240)
    duration = time.monotonic() - started
    assert demo.returncode == 0, output
    for line in (
        "=== 1. Start a Kubernetes control plane",
        "$ kubectl apply -k manifests/examples -n esml-demo",
        "$ kubectl get mdep -n esml-demo -o wide",
        "$ kubectl scale mdep/ner-english -n esml-demo --replicas=4",
        "modeldeployment.esml.io/ner-english condition met",
        "Ready=True  FullyAllocated",
        "Ready=True FullyAllocated: Deployment [elastic__distilbert-base-uncased-finetuned-conll03-english] "
        "is fully allocated: 4 of 4 allocations",
        '"allocation_count":2,"target_allocation_count":2',  # the change made behind the operator's back
        '"allocation_count":4,"target_allocation_count":4',  # ... corrected
        "number_of_allocations 2 -> 4",  # the event of the correction
        "DeploymentStarted",
        "the deployment keeps running in Elasticsearch",
        "still exactly one _start request",
        '["esml.io/stop-deployment"]',
        "/deployment/_stop",
        "An ELSER inference endpoint (semantic_text)",
        'PUT /_inference/sparse_embedding/my-elser/_update {"service_settings": {"num_allocations": 2}}',
        "no request was answered 409",
        "=== Tear down",
        "all steps passed",
    ):
        assert line in output, f"missing {line!r} in the demo output:\n{output}"
    _assert_shortfall_and_fix(output)
    assert "$ES_API_KEY" in output
    api_key = (state_dir / "env.sh").read_text().split("ES_API_KEY=", 1)[1].strip().strip("'")
    assert api_key not in output, "the demo printed the API key"
    _wait_gone(state_dir, "the demo to leave nothing running")
    assert not list(state_dir.rglob("*.pid")), "the demo left pid files"
    assert duration < 120, f"the demo took {duration:.0f}s"


def _assert_shortfall_and_fix(output: str) -> None:
    """The shortfall step shows Elasticsearch's numbers, then the added node, then the deployment converged."""
    shown = [
        "$ kubectl get mdep ner-large -n esml-demo -o 'jsonpath={.status.capacity}'",
        "Ready=False InsufficientCapacity: Deployment [ner-large] cannot start 4 allocations: needs 8 processors "
        "(4 x 2 threads); ML nodes have 8, 4 used by other deployments: 4 free. Add 4 processors, or lower "
        "numberOfAllocations to 2",
        '"$ES_URL/_sim/nodes" -d \'{"processors": 4}\'',
        '"name":"ml-2","processors":4',
        "Ready=True FullyAllocated: Deployment [ner-large] is fully allocated: 4 of 4 allocations",
        'modeldeployment.esml.io "ner-large" deleted',
    ]
    positions = [output.find(line) for line in shown]
    assert -1 not in positions, f"missing {shown[positions.index(-1)]!r} in the demo output:\n{output}"
    assert positions == sorted(positions), f"the shortfall step is out of order:\n{output}"
    lines = output.splitlines()
    capacity = json.loads(lines[lines.index(shown[0]) + 1])  # the line kubectl printed
    assert {k: capacity[k] for k in ("requiredProcessors", "availableProcessors", "usedByOtherDeployments")} == {
        "requiredProcessors": 8,
        "availableProcessors": 8,
        "usedByOtherDeployments": 4,
    }
    assert (capacity["freeProcessors"], capacity["shortfallProcessors"], capacity["limitingFactor"]) == (
        4,
        4,
        "processors",
    )
    assert capacity["fittingAllocations"] == 2


def test_demo_tears_down_on_interrupt(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo"
    demo = _demo(state_dir)
    assert demo.stdout is not None
    seen = []
    for line in demo.stdout:  # until the operator is up: every process has been started
        seen.append(line)
        if line.startswith("=== 4."):
            break
    assert _processes_mentioning(str(state_dir)), "".join(seen)
    demo.send_signal(signal.SIGINT)
    rest, _ = demo.communicate(timeout=60)
    assert demo.returncode == 130, "".join(seen) + rest
    assert "=== Tear down" in rest
    _wait_gone(state_dir, "an interrupted demo to leave nothing running")
