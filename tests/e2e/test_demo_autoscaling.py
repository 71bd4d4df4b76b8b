"""``make demo-autoscaling`` is a smoke test: a real HPA scales the example up on a queue and back down, the
demo says so, and it leaves nothing running."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from harness.runner import REPO
from tests.e2e.test_demo import _wait_gone


def test_the_autoscaling_demo_scales_up_on_a_queue_and_back_down(tmp_path: Path) -> None:
    state_dir = tmp_path / "demo-autoscaling"
    started = time.monotonic()
    demo = subprocess.run(
        [sys.executable, "-m", "tests.demo_autoscaling", "--dir", str(state_dir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    duration = time.monotonic() - started
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output
    for line in (
        "Start the HPA controller (kube-controller-manager)",
        "$ kubectl wait --for=condition=Available apiservice/v1beta1.external.metrics.k8s.io --timeout=60s",
        "$ kubectl apply -n esml-demo -f manifests/examples/hpa-external-metrics.yaml",
        "horizontalpodautoscaler.autoscaling/ner-english created",
        '/_load" -d \'{"requests_per_second": 40, "inference_time_ms": 100}\'',
        "SuccessfulRescale",
        "the queue drains",
        '/_load" -d \'{"requests_per_second": 0, "inference_time_ms": 100}\'',
        "all steps passed",
    ):
        assert line in output, f"missing {line!r} in the demo output:\n{output}"
    scaled = re.search(r"numberOfAllocations 1 -> (\d+)", output)
    assert scaled and 2 <= int(scaled.group(1)) <= 8, output  # up, within the example's maxReplicas
    # the narration shows the queue above the target before the scale-up, and the last _update is back to 1
    pending = [int(m) for m in re.findall(r"pending in Elasticsearch +(\d+)", output)]
    assert max(pending) > 10, output
    updates = re.search(r"_update bodies, in order: (.*)", output)
    assert updates and updates.group(1).endswith('{"number_of_allocations": 1}]'), output
    _wait_gone(state_dir, "the autoscaling demo to leave nothing running")
    assert not list(state_dir.rglob("*.pid")), "the demo left pid files"
    assert duration < 240, f"the autoscaling demo took {duration:.0f}s"
