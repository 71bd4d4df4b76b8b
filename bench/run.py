"""What every scenario shares: sizes, the control plane, the API client, the bare watcher, simulators, helpers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import procs
from bench.es import SimApi
from bench.kube import Credentials, Kube
from esml_operator.settings import Settings
from harness.certs import Pair, TinyCA
from harness.polling import TimedOut, wait_for_async
from harness.process import Process
from harness.runner import ControlPlane
from harness.status import is_ready


def operator_default(name: str, fallback: float) -> float:
    """The operator's own default for a setting: the full run measures what an installation gets."""
    for f in dataclasses.fields(Settings):
        if f.name == name and isinstance(f.default, int | float):
            return float(f.default)
    return fallback


@dataclass(frozen=True)
class Sizes:
    quick: bool
    resync: float  # --resync-interval of every operator in the run (full: the operator's default)
    # 1. reaction latency (and 5. churn, on the same operator)
    latency_clusters: int
    latency_resources: int
    latency_changes: int
    spacing: float  # seconds between change slots
    pair_every: int  # every n-th slot is a back-to-back pair
    delivery_timeout: float
    churn_changes: int
    churn_seconds: float
    # 2. scale and 3. restart
    scale_clusters: int
    per_cluster: int
    ready_timeout: float
    steady_window: float
    restart_window: float
    naive_window: float
    drift_fraction: float
    # 4. failover
    lease_duration: float
    renew_deadline: float
    retry_period: float
    # 6. isolation
    dead_resources: int
    live_resources: int
    isolation_changes: int
    isolation_ready_timeout: float
    # 7. fleet
    fleet_clusters: int
    fleet_per_cluster: int
    fleet_clusters_per_namespace: int
    fleet_ready_timeout: float
    fleet_window: float


FULL = Sizes(
    quick=False,
    resync=operator_default("resync_interval", 30.0),
    latency_clusters=2,
    latency_resources=50,
    latency_changes=300,
    spacing=0.1,
    pair_every=5,
    delivery_timeout=30,
    churn_changes=500,
    churn_seconds=5.0,
    scale_clusters=20,
    per_cluster=100,
    ready_timeout=420,
    steady_window=60,
    restart_window=60,
    naive_window=40,
    drift_fraction=0.1,
    lease_duration=15.0,
    renew_deadline=10.0,
    retry_period=2.0,
    dead_resources=50,
    live_resources=20,
    isolation_changes=100,
    isolation_ready_timeout=90,
    fleet_clusters=100,
    fleet_per_cluster=100,
    fleet_clusters_per_namespace=10,
    fleet_ready_timeout=600,
    fleet_window=60,
)

QUICK = Sizes(
    quick=True,
    resync=5.0,
    latency_clusters=1,
    latency_resources=20,
    latency_changes=60,
    spacing=0.1,
    pair_every=5,
    delivery_timeout=10,
    churn_changes=200,
    churn_seconds=2.0,
    scale_clusters=4,
    per_cluster=50,
    ready_timeout=90,
    steady_window=6,
    restart_window=6,
    naive_window=5,
    drift_fraction=0.1,
    lease_duration=4.0,
    renew_deadline=3.0,
    retry_period=1.0,
    dead_resources=50,
    live_resources=10,
    isolation_changes=30,
    isolation_ready_timeout=20,
    fleet_clusters=10,
    fleet_per_cluster=10,
    fleet_clusters_per_namespace=5,
    fleet_ready_timeout=300,
    fleet_window=6,
)


def mdep(name: str, url: str, deployment: str, replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "esml.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": {
            "modelId": procs.MODEL,
            "deploymentId": deployment,
            "numberOfAllocations": replicas,
            "elasticsearch": {
                "url": url,
                "credentialsSecretRef": {"name": "es-credentials"},
                "caSecretRef": {"name": "es-ca"},
            },
        },
    }


class Run:
    def __init__(self, sizes: Sizes, workdir: Path, fleet: procs.Fleet, plane: ControlPlane) -> None:
        self.sizes = sizes
        self.dir = workdir
        self.fleet = fleet
        self.plane = plane
        self.creds = Credentials(plane.server, plane.ca.cert, plane.admin_cert.cert, plane.admin_cert.key)
        self.kube = Kube(self.creds)
        ca = TinyCA(workdir / "es-pki", "bench-es-ca")
        self.es_tls = procs.Tls(ca.cert, *_pair(ca.server("es-http", ["localhost", "127.0.0.1"])))
        self.watch_log = workdir / "watch.jsonl"
        self.results: dict[str, Any] = {}  # what later scenarios use from earlier ones
        self.operator_flags = procs.operator_flags(fleet.source)
        self.watcher: Process | None = None

    async def start_watcher(self) -> None:
        proc, self.watch_log = procs.spawn_watcher(self.fleet, self.dir / "watcher", self.creds)
        self.watcher = proc
        ready = self.watch_log.with_suffix(".ready")
        await wait_for_async(ready.exists, within=30, what="the bare watcher", processes=[proc])

    async def simulators(
        self, count: int, prefix: str, *, allocation_delay: float = 0.2, per_process: int = 1
    ) -> list[SimApi]:
        sims = procs.spawn_simulators(
            self.fleet,
            self.dir / "sims",
            count,
            tls=self.es_tls,
            prefix=prefix,
            allocation_delay=allocation_delay,
            per_process=per_process,
        )
        await procs.wait_simulators(sims)
        return [SimApi(sim) for sim in sims]

    async def namespace(self, name: str) -> None:
        """A namespace with the credentials (the bench API key) and CA Secrets every ModelDeployment refers to."""
        await self.kube.create_namespace(name)
        await self.kube.create_secret(name, "es-credentials", {"api_key": procs.API_KEY.encode()})
        await self.kube.create_secret(name, "es-ca", {"ca.crt": self.es_tls.ca.read_bytes()})

    async def create(self, items: Iterable[tuple[str, dict[str, Any]]], *, concurrency: int = 16) -> None:
        queue = list(items)
        lock = asyncio.Lock()

        async def worker() -> None:
            while True:
                async with lock:
                    if not queue:
                        return
                    namespace, body = queue.pop()
                await self.kube.create_mdep(namespace, body)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def ready_count(self, namespaces: Sequence[str]) -> int:
        count = 0
        for namespace in namespaces:
            count += sum(1 for obj in await self.kube.list_mdeps(namespace) if is_ready(obj))
        return count

    async def wait_ready(self, namespaces: Sequence[str], total: int, *, within: float) -> tuple[float, int]:
        """Seconds until ``total`` resources are Ready (or ``within`` seconds), and how many are Ready then."""
        interval = 0.5 if total <= 100 else 2.0
        return await ready_within(lambda: self.ready_count(namespaces), total, within=within, interval=interval)

    async def settled(self, quiet: float = 0.5, within: float = 10.0) -> None:
        """Wait until the bare watch client has seen no ModelDeployment change for ``quiet`` seconds: the operator's
        start-up status writes are over. The watcher appends each event to its log, so the log's mtime is the
        last event's time."""

        def quiet_now() -> bool:
            return time.time() - self.watch_log.stat().st_mtime >= quiet

        with contextlib.suppress(TimedOut):  # a busy API server: measure anyway, as the fixed wait did
            await wait_for_async(quiet_now, within=within, interval=0.1, what=f"the watch quiet for {quiet:g} s")

    def watch_events(self, since: float, until: float = float("inf")) -> list[dict[str, Any]]:
        events = []
        with self.watch_log.open() as lines:
            for line in lines:
                event = json.loads(line)
                if since <= event["t"] < until:
                    events.append(event)
        return events

    async def aclose(self) -> None:
        await self.kube.aclose()


def _pair(pair: Pair) -> tuple[Path, Path]:
    return pair.cert, pair.key


async def ready_within(
    count: Callable[[], Awaitable[int]], total: int, *, within: float, interval: float
) -> tuple[float, int]:
    """Seconds until ``count()`` (the Ready resources) reaches ``total``, or ``within`` seconds; and the count then."""
    start = time.monotonic()
    counted = 0

    async def all_ready() -> bool:
        nonlocal counted
        counted = await count()
        return counted >= total

    with contextlib.suppress(TimedOut):  # the caller reports how many were Ready
        await wait_for_async(all_ready, within=within, interval=interval, what=f"{total} Ready")
    return time.monotonic() - start, counted
