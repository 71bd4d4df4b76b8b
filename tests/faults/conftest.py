"""The faults suite: real control plane, real operator processes, simulator processes, proxies of its own.

Each test gets an :class:`Env`: its namespace, simulators started with the
session's planted secrets, fault proxies, operator processes (DEBUG logs,
short resync and lease settings) and a recorder for the report. When the test
ends, the operators' metrics are scraped, the operators stopped, and every
readable place is searched for the planted secrets (any hit fails the test).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from harness.polling import wait_for
from harness.runner import ControlPlane
from tests.e2e.conftest import Kube
from tests.faults.leaks import Planted, exception_texts, scan
from tests.faults.proxy import FaultProxy
from tests.faults.records import Recorder
from tests.faults.tcpproxy import TcpProxy
from tests.faults.watch import StatusWatch
from tests.support.operator import OperatorProcess
from tests.support.polls import stats_polls
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

#: Leader election that hands over in seconds, and Elasticsearch timeouts short enough to watch them fire.
FAST = (
    "--lease-duration",
    "3",
    "--renew-deadline",
    "2",
    "--retry-period",
    "0.5",
    "--connect-timeout",
    "2",
    "--request-timeout",
    "5",
)
REQUEST_TIMEOUT = 5.0
RESYNC = 2.0
OPERATOR_ROLE = "manage_ml,monitor"  # the privileges the operator needs (docs/architecture.md)


class PlantedSimulator(SimulatorProcess):
    """A simulator whose ``elastic`` password and operator API key are the session's planted secrets."""

    def __init__(self, workdir: Path, planted: Planted, *, extra: tuple[str, ...] = (), **kwargs: Any) -> None:
        key = f"{planted.api_key_id}:{planted.api_key_secret}:{OPERATOR_ROLE}"
        super().__init__(workdir, extra=("--elastic-password", planted.password, "--api-key", key, *extra), **kwargs)
        self.planted = planted
        if self.ca is not None:
            planted.add_ca_key(self.ca.key)

    def http(self) -> httpx.Client:
        client = super().http()
        client.auth = httpx.BasicAuth("elastic", self.planted.password)
        return client

    @property
    def local_url(self) -> str:
        """The URL by host name (the certificate names localhost and 127.0.0.1)."""
        return self.url.replace("127.0.0.1", "localhost")


class Env:
    """Everything one faults test starts, stopped and scanned when it ends."""

    def __init__(self, plane: ControlPlane, namespace: str, tmp: Path, planted: Planted, test: str) -> None:
        self.plane, self.kube, self.tmp, self.planted, self.test = plane, Kube(plane, namespace), tmp, planted, test
        self.namespaces = [namespace]
        self.recorder = Recorder()
        self.simulators: list[PlantedSimulator] = []
        self.proxies: list[FaultProxy] = []
        self.api_proxies: list[TcpProxy] = []
        self.operators: list[OperatorProcess] = []
        self.metrics: dict[str, str] = {}
        self.watches: list[StatusWatch] = []

    @property
    def namespace(self) -> str:
        return self.kube.namespace

    def simulator(self, **kwargs: Any) -> PlantedSimulator:
        sim = PlantedSimulator(self.tmp / f"sim{len(self.simulators)}", self.planted, **kwargs)
        self.simulators.append(sim)
        return sim

    def proxy(self, sim: SimulatorProcess, identities: int = 1) -> FaultProxy:
        """A proxy for ``sim`` whose certificates come from the simulator's CA (and, past the first, other CAs)."""
        from harness.certs import TinyCA

        assert sim.ca is not None
        pairs = [sim.ca.server(f"proxy{len(self.proxies)}", ["localhost", "127.0.0.1"])]
        for n in range(1, identities):
            other = TinyCA(self.tmp / f"proxy{len(self.proxies)}-ca{n}", f"rotated-ca-{n}")
            self.planted.add_ca_key(other.key)
            pairs.append(other.server("proxy", ["localhost", "127.0.0.1"]))
        proxy = FaultProxy(sim.url, sim.ca.cert, pairs)
        self.proxies.append(proxy)
        return proxy

    def api_proxy(self) -> tuple[TcpProxy, Path]:
        """A raw TCP proxy in front of the API server, and an admin kubeconfig that reaches it through the proxy."""
        proxy = TcpProxy(self.plane.server)
        self.api_proxies.append(proxy)
        config = yaml.safe_load(self.plane.kubeconfig.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = proxy.url  # the API server's certificate names 127.0.0.1
        path = self.tmp / f"kubeconfig-via-proxy{len(self.api_proxies)}"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return proxy, path

    def operator(
        self,
        *extra: str,
        resync: float = RESYNC,
        lease: str | None = None,
        namespaces: tuple[str, ...] | None = None,
        kubeconfig: Path | None = None,
    ) -> OperatorProcess:
        op = OperatorProcess(
            kubeconfig or self.plane.kubeconfig,
            namespaces=namespaces or (self.namespace,),
            resync_interval=resync,
            extra=(*FAST, *extra),
            workdir=self.tmp / f"operator{len(self.operators)}",
            lease=lease,
        )
        self.operators.append(op)
        return op

    def watch(self, namespace: str | None = None) -> StatusWatch:
        """Every version of the ModelDeployments of the namespace, timed as the watch delivers them."""
        found = StatusWatch(self.plane.kubeconfig, namespace or self.namespace)
        self.watches.append(found)
        return found

    def secrets(self, sim: SimulatorProcess, *, credentials: str = "es-credentials", ca: str = "es-ca") -> None:
        """The planted API key, and the CA certificate with the CA's private key beside it."""
        assert sim.ca is not None
        self.kube.secret(credentials, {"api_key": self.planted.api_key})
        self.kube.secret(ca, {"ca.crt": sim.ca_pem, "ca.key": sim.ca.key.read_bytes()})

    def record(self, **fields: Any) -> None:
        self.recorder.record(self.test, **fields)

    # -- teardown ---------------------------------------------------------------------------------
    def finish(self) -> list[str]:
        for watch in self.watches:
            watch.stop()
        for n, op in enumerate(self.operators):
            if op.process.alive():
                try:
                    self.metrics[f"metrics of operator{n}"] = op.metrics()
                except OSError as error:
                    self.metrics[f"metrics of operator{n}"] = f"(scrape failed: {error})"
            op.stop()
        places = self._readable_places()
        result = scan(self.planted, places)
        scanned = sum(result.places.values())
        self.record(
            leaks={"hits": len(result.hits), "places": len(result.places), "bytes": scanned},
            tracebacks=result.tracebacks,
        )
        self._remove_resources()
        for proxy in self.proxies:
            proxy.close()
        for api in self.api_proxies:
            api.close()
        for sim in self.simulators:
            sim.stop()
        return result.hits

    def _remove_resources(self) -> None:
        """Delete this test's ModelDeployments, finalizers and all: its namespace may stay Terminating (no namespace
        controller), and an operator of a later test watching every namespace must not find them there."""
        for ns in self.namespaces:
            self.plane.kubectl("-n", ns, "delete", "mdep", "--all", "--wait=false", check=False)
            names = self.plane.kubectl("-n", ns, "get", "mdep", "-o", "name", check=False).stdout.split()
            for name in names:
                self.plane.kubectl(
                    "-n", ns, "patch", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}', check=False
                )

    def _readable_places(self) -> dict[str, str]:
        places = dict(self.metrics)
        for n, op in enumerate(self.operators):
            log = op.log
            places[f"log of operator{n}"] = log
            places[f"exceptions of operator{n}"] = "\n".join(exception_texts(log))
        for ns in self.namespaces:
            for kind in ("events", "modeldeployments"):
                out = self.plane.kubectl("-n", ns, "get", kind, "-o", "json", check=False)
                places[f"{kind} in {ns}"] = out.stdout
        return places


@pytest.fixture(scope="session")
def planted() -> Planted:
    return Planted()


@pytest.fixture
def env(
    control_plane: ControlPlane, namespace: str, tmp_path: Path, planted: Planted, request: pytest.FixtureRequest
) -> Iterator[Env]:
    world = Env(control_plane, namespace, tmp_path, planted, request.node.nodeid)
    try:
        yield world
    finally:
        hits = world.finish()
    assert not hits, f"planted secrets leaked: {hits}"


# -- small helpers shared by the scenarios ----------------------------------------------------------


def mdep(name: str, url: str, *, model: str = DEMO_MODEL, allocations: int = 1, **spec: Any) -> dict[str, Any]:
    """A ModelDeployment on ``url`` with the planted credentials and CA (keyword arguments go into spec)."""
    es: dict[str, Any] = {"url": url, "credentialsSecretRef": {"name": "es-credentials"}}
    if url.startswith("https://"):
        es["caSecretRef"] = {"name": "es-ca"}
    es.update(spec.pop("elasticsearch", {}))
    body: dict[str, Any] = {"modelId": model, "numberOfAllocations": allocations, "elasticsearch": es, **spec}
    return {"apiVersion": "esml.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": name}, "spec": body}


def condition(kube: Kube, name: str, type_: str, status: str | None = None) -> dict[str, Any] | None:
    """The condition ``type_`` (if its status is ``status``, when given)."""
    found = kube.condition(name, type_)
    if found is None or (status is not None and found["status"] != status):
        return None
    return found


def patch_spec(kube: Kube, name: str, **spec: Any) -> None:
    kube.kubectl("patch", "mdep", name, "--type=merge", "-p", json.dumps({"spec": spec}))


def deployment(sim: SimulatorProcess, deployment_id: str = DEMO_MODEL) -> dict[str, Any] | None:
    return sim.deployment(deployment_id)


def from_operator(request: dict[str, Any]) -> bool:
    """Whether the operator sent a request in the simulator's log (the tests' own requests are python-httpx)."""
    return any(k.lower() == "user-agent" and v.startswith("esml-operator/") for k, v in request["headers"].items())


def writes(sim: SimulatorProcess, since: float = 0.0) -> list[dict[str, Any]]:
    """The deployment changes the operator sent (_start, _update, _stop) since a wall-clock time."""
    return [r for r in sim.requests("/deployment/_", method="POST") if r["wall_time"] >= since and from_operator(r)]


def reaction(kube: Kube, sim: SimulatorProcess, name: str, deployment_id: str, allocations: int) -> float:
    """Seconds from a spec change (kubectl patch) to the ``_update`` it causes arriving at Elasticsearch."""
    path = f"/_ml/trained_models/{deployment_id}/deployment/_update"
    start = time.time()
    patch_spec(kube, name, numberOfAllocations=allocations)
    found = wait_for(
        lambda: [r for r in sim.requests(path, method="POST") if r["wall_time"] >= start and r["status"] == 200],
        timeout=30,
        what=f"the _update of {deployment_id}",
    )
    return float(found[0]["wall_time"]) - start


def poll_gaps(sim: SimulatorProcess, since: float, until: float | None = None) -> float:
    """The longest time between two ``_stats`` polls of ``sim`` in a window (its start and end count as polls)."""
    end = until if until is not None else time.time()
    times = [since] + [r["wall_time"] for r in stats_polls(sim, since) if r["wall_time"] <= end]
    times.append(end)
    return max(b - a for a, b in itertools.pairwise(times))


def seeded(what: str) -> tuple[int, random.Random]:
    """A seed (``$ESML_FAULTS_SEED`` to replay one, else a fresh one), printed, and its ``random.Random``."""
    seed = int(os.environ.get("ESML_FAULTS_SEED") or random.SystemRandom().randrange(2**32))
    print(f"{what}: seed {seed} (replay with ESML_FAULTS_SEED={seed})")
    return seed, random.Random(seed)
