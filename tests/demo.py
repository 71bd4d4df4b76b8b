"""``python -m tests.demo``: the operator end to end, as a user sees it (``make demo``).

Starts a real control plane (etcd + kube-apiserver), the Elasticsearch
simulator (2 ML nodes, TLS, security, an API key) and the operator as
processes; applies ``manifests/examples/`` (only its URL rewritten to the
simulator's) and narrates with the real ``kubectl`` output: start until Ready,
``kubectl scale``, a change made behind the operator's back and its
correction, the events, deletion with both deletion policies, and an ELSER
inference endpoint's deployment scaled through the endpoint.

Every wait polls a condition with a deadline, and every step checks what it
shows, so the demo exits non-zero when something does not work: it doubles as
a smoke test (tests/e2e/test_demo.py). Everything is torn down at the end, on
error and on Ctrl-C, unless ``--keep`` is given and the demo succeeded; then
it stays running and ``python -m tests.demo --stop`` stops it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import yaml

from harness.commands import OPERATOR, SIMULATOR
from harness.polling import TimedOut, wait_for
from harness.process import stop_from_pid_files
from harness.runner import DEFAULT_BIN, REPO, ControlPlane
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

DEFAULT_DIR = REPO / ".local" / "demo"
NAMESPACE = "esml-demo"
NAME = "ner-english"
EXAMPLES = REPO / "manifests" / "examples"
CREDENTIALS_SECRET = "esml-demo-credentials"
CA_SECRET = "esml-demo-ca"
FINALIZER = "esml.io/stop-deployment"
RESYNC_SECONDS = 3.0
ALLOCATION_DELAY = 1.5
SCALE_TO = 4
DRIFT_TO = 2
ELSER_MODEL = ".elser_model_2_linux-x86_64"
ELSER_ENDPOINT = "my-elser"
ELSER_NAME = "elser"
SHORT_NAME = "ner-large"  # asks for more processors than the ML nodes have free
SHORT_ALLOCATIONS = 4
SHORT_THREADS = 2
NODE_PROCESSORS = 4  # each simulated ML node, and the one the shortfall step adds
TIMEOUT = 45.0
ROUTING_JSONPATH = (
    '{range .status.routingTable[*]}{.nodeName}{"  "}{.routingState}{"  current="}{.currentAllocations}'
    '{" target="}{.targetAllocations}{"\\n"}{end}'
)
CONDITIONS_JSONPATH = '{range .status.conditions[*]}{.type}={.status}  {.reason}{"\\n"}{end}'
ALLOCATION_FILTER = "trained_model_stats.deployment_stats.allocation_status"


class DemoFailed(Exception):
    """A step did not do what the demo shows."""


class Interrupted(BaseException):
    """Ctrl-C or SIGTERM: like KeyboardInterrupt, no ``except Exception`` (nor a wait's "not yet") swallows it."""


def _show_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def route_text(route: dict[str, Any]) -> str:
    """``ml-1 started current=2 target=2``; a count Elasticsearch did not report is left out, not printed empty."""
    parts = [str(route.get("nodeName") or route.get("node")), str(route.get("routingState", "?"))]
    for label, key in (("current", "currentAllocations"), ("target", "targetAllocations")):
        if route.get(key) is not None:
            parts.append(f"{label}={route[key]}")
    return " ".join(parts)


def shown_command(argv: list[str]) -> str:
    """The command a process really runs, as a person would type it (``esml-operator ...``, short paths)."""
    args = list(argv)
    if tuple(args[:3]) == OPERATOR:
        args = ["esml-operator", *args[3:]]
    elif tuple(args[:3]) == SIMULATOR:
        args = ["esml-simulator", *args[3:]]
    shown = [_show_path(Path(a)) if a.startswith("/") else a for a in args]
    return shlex.join(shown)


class Demo:
    def __init__(self, directory: Path, *, keep: bool) -> None:
        self.dir = directory.resolve()
        self.keep = keep
        self.kubeconfig = self.dir / "kubeconfig"
        self.kubectl_bin = DEFAULT_BIN / "kubectl"
        self.plane: ControlPlane | None = None
        self.sim: SimulatorProcess | None = None
        self.operator: OperatorProcess | None = None
        self.es_url = ""
        self.api_key = ""
        self.t0 = time.monotonic()
        self.step = 0

    # -- output ---------------------------------------------------------------------------
    def elapsed(self) -> str:
        return f"{time.monotonic() - self.t0:5.1f}s"

    def heading(self, title: str) -> None:
        self.step += 1
        print(f"\n=== {self.step}. {title}  [{self.elapsed()}]", flush=True)

    def say(self, text: str) -> None:
        print(f"# {text}", flush=True)

    def output(self, text: str) -> None:
        text = text.rstrip("\n")
        if text:
            print(text, flush=True)

    # -- tools ----------------------------------------------------------------------------
    def kubectl(
        self, *args: str, show: bool = True, display: str | None = None, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.kubectl_bin), f"--kubeconfig={self.kubeconfig}", *args]
        if show:
            print(f"$ {display or 'kubectl ' + shlex.join(args)}", flush=True)
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60, check=False)
        if show:
            self.output(proc.stdout)
            self.output(proc.stderr)
        if check and proc.returncode != 0:
            raise DemoFailed(f"kubectl {shlex.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def mdep(self, name: str = NAME) -> dict[str, Any] | None:
        proc = self.kubectl("get", "mdep", name, "-n", NAMESPACE, "-o", "json", show=False, check=False)
        if proc.returncode != 0:
            if "NotFound" in proc.stderr:
                return None
            raise DemoFailed(proc.stderr.strip())
        return dict(json.loads(proc.stdout))

    def es(self, method: str, path: str, **params: Any) -> httpx.Response:
        assert self.sim is not None and self.sim.ca is not None
        verify = ssl.create_default_context(cafile=str(self.sim.ca.cert))
        headers = {"Authorization": f"ApiKey {self.api_key}"}
        with httpx.Client(base_url=self.es_url, verify=verify, headers=headers, timeout=10) as client:
            return client.request(method, path, params=params or None)

    def es_put(self, path: str, body: Any) -> httpx.Response:
        assert self.sim is not None and self.sim.ca is not None
        verify = ssl.create_default_context(cafile=str(self.sim.ca.cert))
        headers = {"Authorization": f"ApiKey {self.api_key}"}
        with httpx.Client(base_url=self.es_url, verify=verify, headers=headers, timeout=60) as client:
            return client.put(path, json=body)

    def es_allocation(self) -> dict[str, Any] | None:
        response = self.es("GET", f"/_ml/trained_models/{DEMO_MODEL}/_stats")
        response.raise_for_status()
        for entry in response.json()["trained_model_stats"]:
            stats = entry.get("deployment_stats")
            if stats and stats["deployment_id"] == DEMO_MODEL:
                return dict(stats.get("allocation_status") or {})
        return None

    def show_es_allocation(self) -> dict[str, Any] | None:
        print(
            '$ curl --cacert "$ES_CA" -H "Authorization: ApiKey $ES_API_KEY" '
            f'"$ES_URL/_ml/trained_models/{DEMO_MODEL}/_stats?filter_path={ALLOCATION_FILTER}"'
        )
        response = self.es("GET", f"/_ml/trained_models/{DEMO_MODEL}/_stats", filter_path=ALLOCATION_FILTER)
        response.raise_for_status()
        self.output(json.dumps(response.json(), separators=(",", ":")))
        return self.es_allocation()

    def wait(self, check: Callable[[], Any], *, what: str, timeout: float = TIMEOUT, interval: float = 0.25) -> Any:
        """``check``'s first truthy result; an exception from it is "not yet" (``harness.polling.wait_for``)."""
        try:
            return wait_for(check, timeout=timeout, what=what, interval=interval)
        except TimedOut as error:
            raise DemoFailed(str(error)) from None

    def sim_requests(self, path_contains: str, method: str = "POST") -> list[dict[str, Any]]:
        assert self.sim is not None
        return self.sim.requests(path_contains, method=method)

    # -- watching the resource converge ---------------------------------------------------
    @staticmethod
    def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
        for cond in (obj or {}).get("status", {}).get("conditions", []) or []:
            if cond.get("type") == kind:
                return dict(cond)
        return {}

    @classmethod
    def settled(cls, obj: dict[str, Any] | None, allocations: int) -> bool:
        """Ready for the current generation, with ``allocations`` running on the routes."""
        if obj is None:
            return False
        status = obj.get("status", {})
        ready = cls.condition(obj, "Ready")
        routes = status.get("routingTable") or []
        return (
            ready.get("status") == "True"
            and ready.get("observedGeneration") == obj["metadata"]["generation"]
            and status.get("allocations") == allocations
            and sum(int(r.get("currentAllocations") or 0) for r in routes) == allocations
        )

    @classmethod
    def snapshot_key(cls, obj: dict[str, Any] | None) -> Any:
        status = (obj or {}).get("status", {})
        ready = cls.condition(obj, "Ready")
        routes = tuple(
            (r.get("node"), r.get("routingState"), r.get("currentAllocations"), r.get("targetAllocations"))
            for r in status.get("routingTable") or []
        )
        return (
            status.get("allocations"),
            status.get("assignmentState"),
            status.get("allocationState"),
            ready.get("status"),
            ready.get("reason"),
            routes,
        )

    def print_snapshot(self, *, routing: bool, name: str = NAME) -> None:
        print(f"[{self.elapsed()}]")
        self.kubectl("get", "mdep", "-n", NAMESPACE)
        if routing:
            obj = self.mdep(name)
            routes = [route_text(r) for r in (obj or {}).get("status", {}).get("routingTable") or []]
            ready = self.condition(obj, "Ready")
            print(f"  routingTable: {' | '.join(routes) or '(empty)'}")
            if ready:
                print(f"  Ready={ready['status']} {ready['reason']}: {ready['message']}")
            else:
                print("  (no conditions yet: the operator has not reported)")

    def watch(
        self,
        done: Callable[[dict[str, Any] | None], bool],
        *,
        what: str,
        routing: bool = True,
        max_snapshots: int = 6,
        skip_current: bool = False,
        name: str = NAME,
    ) -> dict[str, Any] | None:
        """Print a snapshot whenever the resource ``name``'s observed state changes, until ``done``.

        ``skip_current``: print nothing until the status differs from what it is now.
        """
        last_key: Any = self.snapshot_key(self.mdep(name)) if skip_current else object()
        last_print = 0.0
        printed = 0

        def poll() -> tuple[dict[str, Any] | None]:
            nonlocal last_key, last_print, printed
            obj = self.mdep(name)
            finished = done(obj)
            key = self.snapshot_key(obj)
            due = time.monotonic() - last_print >= 1.0 and printed < max_snapshots
            if key != last_key and (finished or due):
                self.print_snapshot(routing=routing, name=name)
                last_key, last_print, printed = key, time.monotonic(), printed + 1
            if not finished:
                raise DemoFailed(f"last status: {(obj or {}).get('status')}")  # what the timeout reports
            return (obj,)

        found: tuple[dict[str, Any] | None] = self.wait(poll, what=what)
        return found[0]

    # -- the steps ------------------------------------------------------------------------
    def clean_previous(self) -> None:
        """Stop what a previous demo in this directory left running (a --keep run, or a crash)."""
        stopped = stop_all(self.dir)
        if stopped:
            self.say(f"stopped what a previous demo left running: {', '.join(stopped)}")
        for sub in ("simulator", "operator"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)

    def start_control_plane(self) -> None:
        self.heading("Start a Kubernetes control plane (etcd + kube-apiserver) and install the CRD")
        plane = ControlPlane(self.dir / "cluster", kubeconfig=self.kubeconfig)
        self.plane = plane
        plane.start(detach=self.keep)
        t = plane.timings
        self.say(f"API server {plane.server} ready in {t['ready']:.1f}s; kubeconfig {_show_path(self.kubeconfig)}")
        self.say(f"kubectl below is {_show_path(self.kubectl_bin)} with KUBECONFIG={_show_path(self.kubeconfig)}")
        self.kubectl("get", "crd", "modeldeployments.esml.io")

    def start_simulator(self) -> None:
        self.heading("Start Elasticsearch (the simulator: 2 ML nodes, TLS, security) and create the Secrets")
        state = ("--state-file", str(self.dir / "simulator" / "state.json")) if self.keep else ()
        self.sim = SimulatorProcess(
            self.dir / "simulator", nodes=2, allocation_delay=ALLOCATION_DELAY, detach=self.keep, extra=state
        )
        print(f"$ {shown_command(self.sim.argv)}", flush=True)
        self.es_url = self.sim.url.replace("127.0.0.1", "localhost")  # the certificate names localhost
        assert self.sim.ca is not None
        self.say(f"Elasticsearch simulator at {self.es_url} (pid {self.sim.process.pid}), model {DEMO_MODEL} loaded")
        self.api_key = self.sim.create_api_key("esml-demo")
        key_id = base64.b64decode(self.api_key).decode().split(":", 1)[0]
        self.say(f'POST /_security/api_key {{"name": "esml-demo"}} -> API key id {key_id}')
        self.write_env_file()
        info = self.es("GET", "/")
        if info.status_code != 200:
            raise DemoFailed(f"GET / with the API key answered {info.status_code}: {info.text}")
        self.say(f"GET / with the API key: Elasticsearch {info.json()['version']['number']}")
        self.kubectl("create", "namespace", NAMESPACE)
        create = f"kubectl create secret generic {{}} -n {NAMESPACE} {{}}"
        self.kubectl(
            "create",
            "secret",
            "generic",
            CREDENTIALS_SECRET,
            "-n",
            NAMESPACE,
            f"--from-literal=api_key={self.api_key}",
            display=create.format(CREDENTIALS_SECRET, "--from-literal=api_key=$ES_API_KEY"),
        )
        self.kubectl(
            "create",
            "secret",
            "generic",
            CA_SECRET,
            "-n",
            NAMESPACE,
            f"--from-file=ca.crt={self.sim.ca.cert}",
            display=create.format(CA_SECRET, '--from-file=ca.crt="$ES_CA"'),
        )

    def start_operator(self) -> None:
        self.heading("Start the operator")
        self.operator = OperatorProcess(
            self.kubeconfig,
            namespaces=(NAMESPACE,),
            resync_interval=RESYNC_SECONDS,
            extra=("--log-level", "INFO"),
            workdir=self.dir / "operator",
            detach=self.keep,
        )
        log = self.dir / "operator" / "operator.log"
        print(f"$ {shown_command(self.operator.argv)}", flush=True)
        self.say(f"pid {self.operator.process.pid}, log {_show_path(log)}")
        self.say(f"liveness endpoint http://127.0.0.1:{self.operator.health_port}/healthz answers 200")

    def example_manifest(self, *, deletion_policy: str | None = None) -> str:
        """manifests/examples rendered by kustomize, with the URL pointed at the simulator."""
        rendered = self.kubectl("kustomize", str(EXAMPLES), show=False).stdout
        docs = [doc for doc in yaml.safe_load_all(rendered) if doc]
        for doc in docs:
            if doc.get("kind") == "ModelDeployment":
                doc["spec"]["elasticsearch"]["url"] = self.es_url
                if deletion_policy:
                    doc["spec"]["deletionPolicy"] = deletion_policy
        return yaml.safe_dump_all(docs, sort_keys=False)

    def apply_example(self, *, deletion_policy: str | None = None) -> None:
        self.kubectl(
            "apply",
            "-n",
            NAMESPACE,
            "-f",
            "-",
            input=self.example_manifest(deletion_policy=deletion_policy),
            display=f"kubectl apply -k manifests/examples -n {NAMESPACE}   # with url: {self.es_url}",
        )

    def create(self) -> None:
        self.heading("Apply manifests/examples: the operator starts the deployment")
        self.say(f"the example as written, except spec.elasticsearch.url -> {self.es_url}")
        self.output(self.example_manifest())
        self.apply_example()
        self.watch(lambda obj: self.settled(obj, 1), what="the deployment to become Ready")
        self.kubectl("wait", "--for=condition=Ready", "--timeout=30s", f"mdep/{NAME}", "-n", NAMESPACE)
        self.kubectl("get", "mdep", "-n", NAMESPACE, "-o", "wide")
        self.kubectl("get", "mdep", NAME, "-n", NAMESPACE, "-o", f"jsonpath={CONDITIONS_JSONPATH}")
        self.kubectl("get", "mdep", NAME, "-n", NAMESPACE, "-o", f"jsonpath={ROUTING_JSONPATH}")
        starts = self.example_starts()
        if len(starts) != 1:
            raise DemoFailed(f"expected exactly one _start request, saw {len(starts)}")
        self.say(f"Elasticsearch received: POST {starts[0]['path']} {starts[0]['query']}")

    def scale(self) -> None:
        self.heading(f"kubectl scale to {SCALE_TO} allocations (the /scale subresource, as an HPA would)")
        self.kubectl("scale", f"mdep/{NAME}", "-n", NAMESPACE, f"--replicas={SCALE_TO}")
        self.watch(lambda obj: self.settled(obj, SCALE_TO), what=f"{SCALE_TO} allocations")
        updates = self.sim_requests("/deployment/_update")
        if not updates:
            raise DemoFailed("the operator sent no _update request")
        self.say(f"Elasticsearch received: POST {updates[-1]['path']} {json.dumps(updates[-1]['body'])}")
        allocation = self.show_es_allocation()
        if not allocation or allocation.get("allocation_count") != SCALE_TO:
            raise DemoFailed(f"Elasticsearch does not report {SCALE_TO} allocations: {allocation}")

    def drift(self) -> None:
        self.heading(f"Someone changes the deployment behind the operator's back (to {DRIFT_TO}, as in Kibana)")
        assert self.sim is not None
        updates_before = len(self.sim_requests("/deployment/_update"))
        print(
            f"$ curl --cacert \"$ES_CA\" -X POST -H 'Content-Type: application/json' "
            f'"$ES_URL/_sim/deployments/{DEMO_MODEL}/_set_allocations" -d \'{{"number_of_allocations": {DRIFT_TO}}}\''
        )
        self.sim.admin("POST", f"deployments/{DEMO_MODEL}/_set_allocations", {"number_of_allocations": DRIFT_TO})
        self.say("Elasticsearch now disagrees with the spec:")
        allocation = self.show_es_allocation()
        if not allocation or allocation.get("target_allocation_count") != DRIFT_TO:
            raise DemoFailed(f"the out-of-band change did not take: {allocation}")
        self.say(
            f"the operator notices at its next poll (every {RESYNC_SECONDS:g}s; until then kubectl shows the "
            "last poll's view) and puts it back:"
        )

        def corrected(obj: dict[str, Any] | None) -> bool:
            # Until its next poll the operator's status still shows the view from before the change, so the
            # step waits for Elasticsearch itself to run the spec's count again (the next step counts on it).
            if len(self.sim_requests("/deployment/_update")) <= updates_before or not self.settled(obj, SCALE_TO):
                return False
            return (self.es_allocation() or {}).get("allocation_count") == SCALE_TO

        self.watch(corrected, what="the operator to correct the drift", skip_current=True)
        update = self.sim_requests("/deployment/_update")[-1]
        self.say(f"Elasticsearch received: POST {update['path']} {json.dumps(update['body'])}")
        allocation = self.show_es_allocation()
        if not allocation or (allocation.get("allocation_count"), allocation.get("target_allocation_count")) != (
            SCALE_TO,
            SCALE_TO,
        ):
            raise DemoFailed(f"Elasticsearch was not corrected: {allocation}")

    def shortfall(self) -> None:
        self.heading("More than the ML nodes can run: the status says by how much; an added node fixes it")
        threads = f"{SHORT_ALLOCATIONS} allocations x {SHORT_THREADS} threads"
        self.say(
            f"{NAME} runs on {SCALE_TO} of the 2 x {NODE_PROCESSORS} ML processors; {SHORT_NAME} asks for {threads}"
        )
        manifest = self.extra_deployment(
            SHORT_NAME,
            DEMO_MODEL,
            deploymentId=SHORT_NAME,
            numberOfAllocations=SHORT_ALLOCATIONS,
            threadsPerAllocation=SHORT_THREADS,
            deletionPolicy="Stop",
        )
        self.output(manifest)
        self.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=manifest, display=f"kubectl apply -n {NAMESPACE} -f -")
        obj = self.wait(lambda: self.short(self.mdep(SHORT_NAME)), what=f"{SHORT_NAME}'s capacity shortfall")
        self.kubectl("get", "mdep", "-n", NAMESPACE)
        self.kubectl("get", "mdep", SHORT_NAME, "-n", NAMESPACE, "-o", "jsonpath={.status.capacity}")
        print()
        ready = self.condition(obj, "Ready")
        print(f"  Ready={ready['status']} {ready['reason']}: {ready['message']}")
        self.say(f"add an ML node of {NODE_PROCESSORS} processors (what a scaling cluster does):")
        print(
            f"$ curl --cacert \"$ES_CA\" -X POST -H 'Content-Type: application/json' "
            f'"$ES_URL/_sim/nodes" -d \'{{"processors": {NODE_PROCESSORS}}}\''
        )
        assert self.sim is not None
        node = self.sim.admin("POST", "nodes", {"processors": NODE_PROCESSORS})
        self.output(json.dumps(node, separators=(",", ":")))

        def fits(obj: dict[str, Any] | None) -> bool:
            return self.settled(obj, SHORT_ALLOCATIONS) and "capacity" not in (obj or {}).get("status", {})

        self.watch(fits, what=f"{SHORT_NAME} at {SHORT_ALLOCATIONS} allocations", name=SHORT_NAME, max_snapshots=3)
        self.say("status.capacity is gone and Ready is True; the demo stops the deployment (deletionPolicy: Stop):")
        self.kubectl("delete", "mdep", SHORT_NAME, "-n", NAMESPACE, "--timeout=30s")
        self.wait(lambda: SHORT_NAME not in self.es_deployments(), what=f"{SHORT_NAME} to be stopped", timeout=20)

    def es_deployments(self) -> list[str]:
        """The ids of the deployments Elasticsearch runs."""
        response = self.es("GET", "/_ml/trained_models/_stats")
        response.raise_for_status()
        stats = response.json()["trained_model_stats"]
        return [entry["deployment_stats"]["deployment_id"] for entry in stats if "deployment_stats" in entry]

    def extra_deployment(self, name: str, model_id: str, **spec: Any) -> str:
        """A ModelDeployment next to the example's, with the demo's Elasticsearch and Secrets."""
        manifest = {
            "apiVersion": "esml.io/v1alpha1",
            "kind": "ModelDeployment",
            "metadata": {"name": name},
            "spec": {
                "modelId": model_id,
                **spec,
                "elasticsearch": {
                    "url": self.es_url,
                    "credentialsSecretRef": {"name": CREDENTIALS_SECRET},
                    "caSecretRef": {"name": CA_SECRET},
                },
            },
        }
        return yaml.safe_dump(manifest, sort_keys=False)

    @classmethod
    def short(cls, obj: dict[str, Any] | None) -> dict[str, Any] | None:
        """``obj`` once it reports a processor shortfall (status.capacity and Ready InsufficientCapacity)."""
        capacity = (obj or {}).get("status", {}).get("capacity") or {}
        if cls.condition(obj, "Ready").get("reason") != "InsufficientCapacity" or not capacity:
            return None
        if capacity.get("limitingFactor") != "processors":
            raise DemoFailed(f"expected processors to be the limiting factor: {capacity}")
        return obj

    def events(self) -> None:
        self.heading("The events the operator recorded")
        self.kubectl(
            "get",
            "events",
            "-n",
            NAMESPACE,
            "--field-selector",
            f"involvedObject.name={NAME}",
            "--sort-by=.metadata.creationTimestamp",
        )
        items = json.loads(self.kubectl("get", "events", "-n", NAMESPACE, "-o", "json", show=False).stdout)["items"]
        reasons = {item.get("reason") for item in items}
        missing = {"DeploymentStarted", "DeploymentUpdated", "Ready"} - reasons
        if missing:
            raise DemoFailed(f"events missing: {sorted(missing)} (seen: {sorted(r for r in reasons if r)})")

    def delete(self) -> None:
        self.heading("Delete the resource: deletionPolicy Retain (the default) keeps the deployment")
        policy = self.kubectl(
            "get", "mdep", NAME, "-n", NAMESPACE, "-o", "jsonpath={.spec.deletionPolicy}"
        ).stdout.strip()
        if policy != "Retain":
            raise DemoFailed(f"expected the example's deletionPolicy to default to Retain, got {policy!r}")
        self.say("the example sets no deletionPolicy, so the API server defaulted it to Retain")
        self.kubectl("delete", "mdep", NAME, "-n", NAMESPACE, "--timeout=30s")
        self.kubectl("get", "mdep", "-n", NAMESPACE)
        self.say("the deployment keeps running in Elasticsearch:")
        allocation = self.show_es_allocation()
        if not allocation:
            raise DemoFailed("the deployment was stopped although deletionPolicy is Retain")

        self.heading("Apply the example again: the operator adopts the running deployment (no second _start)")
        self.apply_example()
        self.say("the example says numberOfAllocations: 1, so the operator scales the adopted deployment down")
        self.watch(lambda obj: self.settled(obj, 1), what="the adopted deployment at 1 allocation", max_snapshots=4)
        starts = self.example_starts()
        if len(starts) != 1:
            raise DemoFailed(f"adoption sent a second _start ({len(starts)} in all)")
        self.say(f"still exactly one _start request in Elasticsearch's log; the last update: {self.last_update()}")

        self.heading("deletionPolicy: Stop: the operator's finalizer stops the deployment on delete")
        self.kubectl("patch", "mdep", NAME, "-n", NAMESPACE, "--type=merge", "-p", '{"spec":{"deletionPolicy":"Stop"}}')
        self.say("the operator adds its finalizer for deletionPolicy: Stop (wait for it before deleting):")
        self.wait(
            lambda: FINALIZER in ((self.mdep() or {}).get("metadata", {}).get("finalizers") or []),
            what=f"the finalizer {FINALIZER}",
            timeout=20,
        )
        self.kubectl("get", "mdep", NAME, "-n", NAMESPACE, "-o", "jsonpath={.metadata.finalizers}")
        self.kubectl("delete", "mdep", NAME, "-n", NAMESPACE, "--timeout=30s")
        self.wait(lambda: self.es_allocation() is None, what="the deployment to be stopped", timeout=20)
        stops = self.sim_requests("/deployment/_stop")
        if not stops:
            raise DemoFailed("no _stop request reached Elasticsearch")
        self.say(f"Elasticsearch received: POST {stops[-1]['path']}")
        stats_filter = "trained_model_stats.deployment_stats.deployment_id"
        print(
            '$ curl --cacert "$ES_CA" -H "Authorization: ApiKey $ES_API_KEY" '
            f'"$ES_URL/_ml/trained_models/_stats?filter_path={stats_filter}"'
        )
        response = self.es("GET", "/_ml/trained_models/_stats", filter_path=stats_filter)
        self.output(json.dumps(response.json()) + "   # no deployment is left")

    def inference_endpoint(self) -> None:
        self.heading("An ELSER inference endpoint (semantic_text): the operator scales it through the endpoint")
        body = {
            "service": "elasticsearch",
            "service_settings": {"model_id": ELSER_MODEL, "num_threads": 1, "num_allocations": 1},
        }
        print(
            f'$ curl --cacert "$ES_CA" -H "Authorization: ApiKey $ES_API_KEY" -X PUT -H \'Content-Type: '
            f"application/json' \"$ES_URL/_inference/sparse_embedding/{ELSER_ENDPOINT}\" -d '{json.dumps(body)}'"
        )
        created = self.es_put(f"/_inference/sparse_embedding/{ELSER_ENDPOINT}", body)
        if created.status_code != 200:
            raise DemoFailed(f"PUT _inference answered {created.status_code}: {created.text}")
        self.say(
            f"the endpoint deployed {ELSER_MODEL} as deployment [{ELSER_ENDPOINT}]; on Elasticsearch 9.2 only "
            "the endpoint's _update may change it (the trained-model _update answers 409)"
        )
        text = self.extra_deployment(ELSER_NAME, ELSER_MODEL, deploymentId=ELSER_ENDPOINT, numberOfAllocations=2)
        self.output(text)
        self.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=text, display=f"kubectl apply -n {NAMESPACE} -f -")

        def elser() -> dict[str, Any] | None:
            proc = self.kubectl("get", "mdep", ELSER_NAME, "-n", NAMESPACE, "-o", "json", show=False, check=False)
            return dict(json.loads(proc.stdout)) if proc.returncode == 0 else None

        self.wait(lambda: self.settled(elser(), 2), what="the endpoint's deployment at 2 allocations")
        self.kubectl("get", "mdep", ELSER_NAME, "-n", NAMESPACE, "-o", "wide")
        self.kubectl("get", "mdep", ELSER_NAME, "-n", NAMESPACE, "-o", "jsonpath={.status.inferenceEndpoint}")
        print()
        sent = self.sim_requests(f"/_inference/sparse_embedding/{ELSER_ENDPOINT}/_update", method="PUT")
        if [r["body"] for r in sent] != [{"service_settings": {"num_allocations": 2}}]:
            raise DemoFailed(f"expected one inference _update to 2 allocations, saw {sent}")
        self.say(f"Elasticsearch received: PUT {sent[0]['path']} {json.dumps(sent[0]['body'])}")
        assert self.sim is not None
        conflicts = [r for r in self.sim.requests() if r["status"] == 409]
        if conflicts:
            raise DemoFailed(f"Elasticsearch answered 409: {conflicts}")
        self.say("no request was answered 409; the operator never starts, restarts or stops an endpoint's deployment")

    def example_starts(self) -> list[dict[str, Any]]:
        """The ``_start`` requests for the example's deployment (not the shortfall step's)."""
        starts = self.sim_requests("/deployment/_start")
        return [r for r in starts if (r.get("query") or {}).get("deployment_id", DEMO_MODEL) == DEMO_MODEL]

    def last_update(self) -> str:
        updates = self.sim_requests("/deployment/_update")
        return json.dumps(updates[-1]["body"]) if updates else "none"

    def leave_running(self) -> None:
        self.heading("--keep: apply the example again and leave everything running")
        self.apply_example()
        self.watch(lambda obj: self.settled(obj, 1), what="the deployment to become Ready", max_snapshots=2)

    # -- the end --------------------------------------------------------------------------
    def write_env_file(self) -> None:
        assert self.sim is not None and self.sim.ca is not None
        env = self.dir / "env.sh"
        env.write_text(
            f"# source {_show_path(env)}: the demo's cluster and Elasticsearch\n"
            f"export KUBECONFIG={shlex.quote(str(self.kubeconfig))}\n"
            f"export PATH={shlex.quote(str(DEFAULT_BIN))}:$PATH\n"
            f"export ES_URL={shlex.quote(self.es_url)}\n"
            f"export ES_CA={shlex.quote(str(self.sim.ca.cert))}\n"
            f"export ES_API_KEY={shlex.quote(self.api_key)}\n"
        )
        env.chmod(0o600)
        self.say(f"ES_URL, ES_CA and ES_API_KEY are in {_show_path(env)} (source it to run the commands below)")

    def restart_argv(self) -> list[str]:
        """The simulator's command line with its current port instead of 0, so a restart keeps the URL."""
        assert self.sim is not None
        argv = list(self.sim.argv)
        argv[argv.index("--port") + 1] = str(self.sim.port)
        return argv

    def print_usage(self) -> None:
        assert self.sim is not None and self.operator is not None and self.plane is not None
        env = _show_path(self.dir / "env.sh")
        py = _show_path(Path(sys.executable)) if Path(sys.executable).is_relative_to(REPO) else sys.executable
        stop = f"{py} -m tests.demo --stop" + ("" if self.dir == DEFAULT_DIR else f" --dir {self.dir}")
        print(
            f"""
The demo is still running. To use it:

  source {env}          # KUBECONFIG, PATH (kubectl), ES_URL, ES_CA, ES_API_KEY
  # or: export KUBECONFIG={self.kubeconfig}
  kubectl get mdep -n {NAMESPACE} -o wide
  kubectl scale mdep/{NAME} -n {NAMESPACE} --replicas=3
  kubectl get mdep {NAME} -n {NAMESPACE} -o jsonpath='{ROUTING_JSONPATH}'
  kubectl get events -n {NAMESPACE}
  kubectl explain modeldeployment.spec

Elasticsearch (simulator) at {self.es_url}, CA {self.sim.ca.cert if self.sim.ca else ""}:
  curl --cacert "$ES_CA" -H "Authorization: ApiKey $ES_API_KEY" "$ES_URL/_ml/trained_models/_stats?pretty"
  curl --cacert "$ES_CA" -X POST -H 'Content-Type: application/json' \\
    "$ES_URL/_sim/deployments/{DEMO_MODEL}/_set_allocations" -d '{{"number_of_allocations": 2}}'

The simulator keeps its state (API keys, deployments) in {_show_path(self.dir / "simulator" / "state.json")}
(written after every change). To restart it in place (same port, same keys, same deployments):
  kill {self.sim.process.pid}; {shown_command(self.restart_argv())} &

Logs: {_show_path(self.dir / "operator" / "operator.log")}, {_show_path(self.dir / "simulator" / "simulator.log")},
      {_show_path(self.dir / "cluster")}/*.log

Processes: operator pid {self.operator.process.pid}, simulator pid {self.sim.process.pid}, \
kube-apiserver + etcd (pid files in {_show_path(self.dir / "cluster")}).
Stop everything (operator, simulator, control plane):
  {stop}
(`make cluster-down ESML_CLUSTER_DIR={self.dir / "cluster"}` stops only the control plane.)""",
            flush=True,
        )

    def teardown(self) -> None:
        print(f"\n=== Tear down: operator, simulator, control plane  [{self.elapsed()}]", flush=True)
        for name, stop in (
            ("operator", self.operator.stop if self.operator else None),
            ("simulator", self.sim.stop if self.sim else None),
            ("control plane", self.plane.stop if self.plane else None),
        ):
            if stop is None:
                continue
            try:
                stop()
            except Exception as error:  # keep stopping the rest
                print(f"# could not stop the {name}: {error}", file=sys.stderr, flush=True)
        leftovers = stop_all(self.dir)
        if leftovers:
            print(f"# also stopped: {', '.join(leftovers)}", flush=True)
        print(f"# stopped; logs are kept in {_show_path(self.dir)}", flush=True)

    def failure_details(self) -> None:
        for label, path in (
            ("operator", self.dir / "operator" / "operator.log"),
            ("simulator", self.dir / "simulator" / "simulator.log"),
        ):
            with contextlib.suppress(OSError):
                tail = path.read_text(errors="replace").splitlines()[-25:]
                print(f"--- last lines of the {label} log ({_show_path(path)}):", file=sys.stderr)
                print("\n".join(tail), file=sys.stderr, flush=True)

    INTRO = (
        "esml-operator demo: a ModelDeployment keeps an Elasticsearch trained-model deployment "
        "at its declared allocation count."
    )

    def steps(self) -> list[Callable[[], None]]:
        steps = [self.start_control_plane, self.start_simulator, self.start_operator, self.create, self.scale]
        steps += [self.drift, self.shortfall, self.events, self.delete, self.inference_endpoint]
        return steps + ([self.leave_running] if self.keep else [])

    def run(self) -> int:
        print(self.INTRO, flush=True)
        self.clean_previous()
        ok = False
        try:
            for step in self.steps():
                step()
            ok = True
        except Interrupted:
            print("\n# interrupted", file=sys.stderr, flush=True)
            return 130
        except (DemoFailed, subprocess.SubprocessError, httpx.HTTPError, OSError, RuntimeError) as error:
            print(f"\nDEMO FAILED at step {self.step} [{self.elapsed()}]: {error}", file=sys.stderr, flush=True)
            self.failure_details()
            return 1
        finally:
            if ok and self.keep:
                self.print_usage()
            else:
                with _signals_ignored():
                    self.teardown()
        print(f"\nDemo finished in {time.monotonic() - self.t0:.1f}s: all steps passed.", flush=True)
        return 0


def stop_all(directory: Path) -> list[str]:
    """Stop the operator, then the simulator, then the control plane recorded in pid files under ``directory``."""
    stopped: list[str] = []
    for sub in ("operator", "simulator", "cluster"):
        if (directory / sub).is_dir():
            stopped += stop_from_pid_files(directory / sub)
    return stopped


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """Let the tear-down finish even if Ctrl-C is pressed again."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave everything running at the end (make demo KEEP=1)")
    parser.add_argument("--stop", action="store_true", help="stop what a --keep run left running, and exit")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="state directory (default .local/demo)")
    args = parser.parse_args(argv)
    if args.stop:
        stopped = stop_all(args.dir.resolve()) if args.dir.exists() else []
        print(f"stopped: {', '.join(stopped)}" if stopped else "no demo was running")
        return 0
    if not (DEFAULT_BIN / "kubectl").exists():
        print("the control plane is not built: run `make controlplane` (or `make demo`)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    os.environ.pop("KUBECONFIG", None)  # kubectl and the operator get the demo's kubeconfig explicitly
    return Demo(args.dir, keep=args.keep).run()


if __name__ == "__main__":
    raise SystemExit(main())
