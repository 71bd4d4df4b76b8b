"""``python -m tests.demo_autoscaling``: a real HPA scales a ModelDeployment on its inference queue
(``make demo-autoscaling``).

Starts the control plane, the Elasticsearch simulator and the operator as ``make demo`` does, with the
operator's external metrics API registered as an APIService (kube-apiserver's aggregation layer calls it
with its front-proxy certificate) and kube-controller-manager running the HPA controller. It applies the
example ModelDeployment and ``manifests/examples/hpa-external-metrics.yaml`` (only its 5-minute
scale-down window shortened), sends simulated inference traffic that one allocation cannot keep up with,
and narrates: the queue grows, the external metric follows, the HPA writes ``/scale``, the operator sends
``_update``, the queue drains; the traffic stops and the HPA scales back down.

Every step checks what it shows, so the demo exits non-zero when something does not work
(tests/e2e/test_demo_autoscaling.py runs it). Everything is torn down at the end, on error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.certs import TinyCA
from harness.process import Process
from harness.runner import DEFAULT_BIN, REPO, free_port
from tests.demo import NAME, NAMESPACE, Demo, DemoFailed, _interrupt
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL

DEFAULT_DIR = REPO / ".local" / "demo-autoscaling"
EXAMPLE_HPA = REPO / "manifests" / "examples" / "hpa-external-metrics.yaml"
PENDING = "esml_modeldeployment_inference_pending_requests"
API_SERVICE = "v1beta1.external.metrics.k8s.io"
SERVICE = "esml-external-metrics"
HPA_SYNC_SECONDS = 1.0  # kube-controller-manager's default is 15 s
DOWNSCALE_WINDOW = 10  # seconds; the example says 300
REQUESTS_PER_SECOND = 40  # one allocation of 100 ms serves 10 per second: 30 per second queue up
INFERENCE_MS = 100
HPA_COLUMNS = "custom-columns=NAME:.metadata.name,CURRENT:.status.currentMetrics[0].external.current.averageValue,"
HPA_COLUMNS += "TARGET:.spec.metrics[0].external.target.averageValue,REPLICAS:.status.currentReplicas,"
HPA_COLUMNS += "DESIRED:.status.desiredReplicas"


class AutoscalingDemo(Demo):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory, keep=False)
        self.controller_manager: Process | None = None
        self.metrics_port = free_port()
        self.scaled_to = 0

    # -- set-up ---------------------------------------------------------------------------
    def start_hpa_controller(self) -> None:
        self.heading("Start the HPA controller (kube-controller-manager)")
        assert self.plane is not None
        self.controller_manager = self.plane.start_controller_manager(
            hpa_sync_period=HPA_SYNC_SECONDS, downscale_stabilization=DOWNSCALE_WINDOW
        )
        self.say(
            f"--controllers=horizontal-pod-autoscaler-controller,... --horizontal-pod-autoscaler-sync-period="
            f"{HPA_SYNC_SECONDS:g}s (default 15s): the HPA reads its metric every second"
        )

    def start_operator(self) -> None:
        self.heading("Start the operator with its external metrics API (external.metrics.k8s.io/v1beta1)")
        ca = TinyCA(self.dir / "external-metrics-ca", "esml-external-metrics-ca")
        pair = ca.server("serving", [f"{SERVICE}.{NAMESPACE}.svc", "localhost", "127.0.0.1"])
        flags = (
            "--external-metrics",
            "--external-metrics-endpoint",
            f"https://127.0.0.1:{self.metrics_port}",
            "--external-metrics-cert-file",
            str(pair.cert),
            "--external-metrics-key-file",
            str(pair.key),
            "--log-level",
            "INFO",
        )
        self.operator = OperatorProcess(
            self.kubeconfig, namespaces=(NAMESPACE,), resync_interval=2.0, extra=flags, workdir=self.dir / "operator"
        )
        self.say(f"pid {self.operator.process.pid}: serves the external metrics API on 127.0.0.1:{self.metrics_port}")
        self.say("in a cluster: manifests/components/external-metrics adds the APIService, Service, RBAC and flags")
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVICE, "namespace": NAMESPACE},
            "spec": {"type": "ExternalName", "externalName": "localhost"},
        }
        api_service = {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": API_SERVICE},
            "spec": {
                "group": "external.metrics.k8s.io",
                "version": "v1beta1",
                "service": {"namespace": NAMESPACE, "name": SERVICE, "port": self.metrics_port},
                "caBundle": base64.b64encode(ca.cert.read_bytes()).decode(),
                "groupPriorityMinimum": 100,
                "versionPriority": 100,
            },
        }
        self.say("the APIService sends external.metrics.k8s.io to the operator (here a Service pointing at localhost)")
        self.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps({"kind": "List", "apiVersion": "v1", "items": [service, api_service]}),
            display="kubectl apply -f apiservice.yaml",
        )
        self.kubectl("wait", "--for=condition=Available", f"apiservice/{API_SERVICE}", "--timeout=60s")

    def apply_hpa(self) -> None:
        self.heading("Apply manifests/examples/hpa-external-metrics.yaml")
        shown = f"kubectl apply -n {NAMESPACE} -f {EXAMPLE_HPA.relative_to(REPO)}"
        self.kubectl("apply", "-n", NAMESPACE, "-f", str(EXAMPLE_HPA), display=shown)
        self.say(f"for the demo only: scale down after {DOWNSCALE_WINDOW}s of lower load instead of 300s")
        window = {"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": DOWNSCALE_WINDOW}}}}
        self.kubectl("patch", "hpa", NAME, "-n", NAMESPACE, "--type", "merge", "-p", json.dumps(window))
        self.wait(lambda: self.metric() == 0, what="the external metric at 0")
        self.show_metric()
        self.wait(lambda: self.hpa_current() is not None, what="the HPA reading its metric")
        self.kubectl("get", "hpa", "-n", NAMESPACE, "-o", HPA_COLUMNS)

    # -- what the HPA sees ----------------------------------------------------------------
    def metric(self) -> float | None:
        """The external metric as the HPA reads it, through kube-apiserver's aggregation layer."""
        selector = urllib.parse.quote(f"name={NAME}")
        path = f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/{PENDING}?labelSelector={selector}"
        proc = self.kubectl("get", "--raw", path, show=False, check=False)
        if proc.returncode != 0:
            return None
        items = json.loads(proc.stdout)["items"]
        return _quantity(items[0]["value"]) if items else None

    def show_metric(self) -> None:
        print(
            f"$ kubectl get --raw '/apis/external.metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/{PENDING}"
            f"?labelSelector=name%3D{NAME}' | jq '.items[] | {{metricLabels, value}}'"
        )
        selector = urllib.parse.quote(f"name={NAME}")
        raw = self.kubectl(
            "get",
            "--raw",
            f"/apis/external.metrics.k8s.io/v1beta1/namespaces/{NAMESPACE}/{PENDING}?labelSelector={selector}",
            show=False,
        ).stdout
        for item in json.loads(raw)["items"]:
            self.output(json.dumps({"metricLabels": item["metricLabels"], "value": item["value"]}))

    def hpa(self) -> dict[str, Any]:
        proc = self.kubectl("get", "hpa", NAME, "-n", NAMESPACE, "-o", "json", show=False)
        return dict(json.loads(proc.stdout))

    def hpa_current(self) -> str | None:
        for metric in self.hpa().get("status", {}).get("currentMetrics") or []:
            current = metric.get("external", {}).get("current", {}).get("averageValue")
            if current is not None:
                return str(current)
        return None

    def allocations(self) -> int:
        return self.spec_allocations(self.mdep())

    @staticmethod
    def spec_allocations(obj: dict[str, Any] | None) -> int:
        return int(((obj or {}).get("spec") or {}).get("numberOfAllocations") or 0)

    def settled_on_scaled_up_spec(self, obj: dict[str, Any] | None) -> bool:
        """Scaled up (more than 1 allocation asked for), and Ready with as many as the spec asks for now."""
        wanted = self.spec_allocations(obj)
        return wanted > 1 and self.settled(obj, wanted)

    def pending_in_es(self) -> int:
        stats = self.es("GET", f"/_ml/trained_models/{DEMO_MODEL}/_stats").json()["trained_model_stats"]
        for entry in stats:
            deployment = entry.get("deployment_stats") or {}
            if deployment.get("deployment_id") == DEMO_MODEL:
                return sum(int(n.get("number_of_pending_requests") or 0) for n in deployment.get("nodes") or [])
        return 0

    def narrate_until(self, done: Any, *, what: str, timeout: float = 90.0) -> None:
        """Every two seconds a line: the queue in Elasticsearch, the metric, the HPA, the spec, until ``done``."""
        last = ""

        def narrated() -> bool:
            nonlocal last
            hpa = self.hpa().get("status", {})
            line = (
                f"pending in Elasticsearch {self.pending_in_es():4d} | external metric "
                f"{_show(self.metric())} | HPA current {self.hpa_current() or '-'}/allocation, desired "
                f"{hpa.get('desiredReplicas', '-')} | numberOfAllocations {self.allocations()}"
            )
            if line != last:
                print(f"[{self.elapsed()}] {line}", flush=True)
                last = line
            return bool(done())

        self.wait(narrated, what=what, timeout=timeout, interval=2.0)

    def hpa_events(self) -> None:
        self.kubectl(
            "get",
            "events",
            "-n",
            NAMESPACE,
            "--field-selector",
            "involvedObject.kind=HorizontalPodAutoscaler",
            "-o",
            "custom-columns=REASON:.reason,MESSAGE:.message",
        )

    # -- the steps ------------------------------------------------------------------------
    def set_load(self, requests_per_second: int) -> None:
        assert self.sim is not None
        body = {"requests_per_second": requests_per_second, "inference_time_ms": INFERENCE_MS}
        print(f"$ curl -X POST \"$ES_URL/_sim/deployments/{DEMO_MODEL}/_load\" -d '{json.dumps(body)}'", flush=True)
        self.sim.admin("POST", f"deployments/{DEMO_MODEL}/_load", body)

    def load(self) -> None:
        self.heading(f"Traffic: {REQUESTS_PER_SECOND} inference requests/s of {INFERENCE_MS} ms each")
        capacity = 1000 // INFERENCE_MS
        self.say(
            f"one allocation serves {capacity} requests/s: {REQUESTS_PER_SECOND - capacity} per second queue up "
            "(simulated traffic: the simulator queues it per node as Elasticsearch does)"
        )
        self.set_load(REQUESTS_PER_SECOND)
        self.narrate_until(lambda: self.allocations() > 1, what="the HPA scaling up")
        self.scaled_to = self.allocations()
        self.say(
            f"the HPA wrote /scale: numberOfAllocations 1 -> {self.scaled_to} (at most +4 a minute, as the "
            "example's scaleUp policy allows)"
        )
        self.hpa_events()
        # The HPA may take a second step before the first is allocated (its policy allows +4 a minute): follow
        # the spec to wherever it settles instead of waiting for the first step's count.
        settled = self.watch(self.settled_on_scaled_up_spec, what="the allocations the HPA asked for", routing=False)
        self.scaled_to = self.spec_allocations(settled)
        updates = self.sim_requests("/deployment/_update")
        if {"number_of_allocations": self.scaled_to} not in [u["body"] for u in updates]:
            raise DemoFailed(f"the operator sent no _update to {self.scaled_to}: {updates}")
        self.say(f"Elasticsearch received: POST {updates[-1]['path']} {json.dumps(updates[-1]['body'])}")
        capacity_now = self.scaled_to * capacity
        self.say(f"{self.scaled_to} allocations serve {capacity_now} requests/s: the queue drains")
        self.narrate_until(lambda: self.pending_in_es() <= REQUESTS_PER_SECOND * INFERENCE_MS // 1000, what="drained")

    def quiet(self) -> None:
        self.heading("The traffic stops: the HPA scales back down after its stabilisation window")
        self.set_load(0)
        self.narrate_until(lambda: self.allocations() == 1, what="the HPA scaling down", timeout=DOWNSCALE_WINDOW + 60)
        self.hpa_events()
        self.watch(lambda obj: self.settled(obj, 1), what="1 allocation", routing=False)
        updates = [u["body"] for u in self.sim_requests("/deployment/_update")]
        self.say(f"Elasticsearch received these _update bodies, in order: {json.dumps(updates)}")
        if updates[-1] != {"number_of_allocations": 1}:
            raise DemoFailed(f"the last _update was not to 1 allocation: {updates}")

    def create_example(self) -> None:
        self.heading("Apply manifests/examples: the operator starts the deployment with 1 allocation")
        self.apply_example()
        self.watch(lambda obj: self.settled(obj, 1), what="the deployment to become Ready", routing=False)

    def teardown(self) -> None:
        if self.controller_manager is not None:
            self.controller_manager.stop()
        super().teardown()

    INTRO = (
        "esml-operator autoscaling demo: a HorizontalPodAutoscaler scales a ModelDeployment on the inference "
        "requests queued in Elasticsearch."
    )

    def steps(self) -> list[Callable[[], None]]:
        return [
            self.start_control_plane,
            self.start_simulator,
            self.start_operator,
            self.start_hpa_controller,
            self.create_example,
            self.apply_hpa,
            self.load,
            self.quiet,
        ]


def _quantity(text: str) -> float:
    """A Kubernetes quantity as the metrics API writes it: ``35``, ``8750m``."""
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.demo_autoscaling", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIR, help="state directory (default .local/demo-autoscaling)"
    )
    args = parser.parse_args(argv)
    if not (DEFAULT_BIN / "kube-controller-manager").exists():
        print("the control plane is not built: run `make controlplane` (or `make demo-autoscaling`)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.pop("KUBECONFIG", None)
    return AutoscalingDemo(args.dir).run()


if __name__ == "__main__":
    raise SystemExit(main())
