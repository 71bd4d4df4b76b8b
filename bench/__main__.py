"""``make bench``: the operator's cost model at scale, as ratios measured in one run.

M simulated Elasticsearch clusters (in-process, real HTTP) and N ModelDeployments
spread over them, reconciled by the real Runtime (decide + client + pool +
snapshot cache) with an in-memory Kubernetes stand-in. Printed figures:

* stats calls per resync pass / clusters          (target 1.0: O(clusters), not O(resources))
* status writes per steady pass / resources        (target 0: nothing changed, nothing written)
* _update calls / deployments drifted out of band  (target 1.0: each drift corrected once)
* ES writes per steady pass                        (target 0: never a no-op update)
* reconcile wall time per resource per pass (ms)   (reported, no target yet)
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench.fake_kube import FakeKube
from esml_operator.elasticsearch.connections import ConnectionPool
from esml_operator.handlers.runtime import Runtime
from esml_operator.settings import Settings
from esml_operator.simulator import Simulator

MODEL = "bench-model"
STATS = "/_ml/trained_models/_all/_stats"


def body(i: int, url: str, per_cluster: int) -> dict[str, Any]:
    return {
        "apiVersion": "esml.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": f"md-{i}", "namespace": f"ns-{i // per_cluster}", "uid": f"uid-{i}", "generation": 1},
        "spec": {"modelId": MODEL, "deploymentId": f"dep-{i}", "numberOfAllocations": 1, "elasticsearch": {"url": url}},
    }


async def run_pass(runtime: Runtime) -> float:
    started = time.monotonic()
    await asyncio.gather(*(runtime.reconcile(uid, newer_than=started) for uid in list(runtime.entries)))
    return time.monotonic() - started


async def main(clusters: int, per_cluster: int, passes: int) -> int:
    sims = [
        Simulator(
            port=0, security=False, nodes=4, processors=256, node_memory=128 * 2**30,
            allocation_delay=0.0, models=[MODEL], model_size=1_000_000,
        )
        for _ in range(clusters)
    ]  # fmt: skip
    for sim in sims:
        await sim.start()
    kube = FakeKube()
    settings = Settings(all_namespaces=True, resync_interval=3600, min_poll_interval=0.0, max_concurrent_reconciles=64)
    runtime = Runtime(settings, kube, ConnectionPool())  # type: ignore[arg-type]
    resources = clusters * per_cluster
    try:
        t0 = time.monotonic()
        for i in range(resources):
            runtime.observe("ADDED", body(i, sims[i // per_cluster].url, per_cluster))
        while kube.ready() < resources:
            if time.monotonic() - t0 > 600:
                raise SystemExit(f"only {kube.ready()}/{resources} Ready after 600 s")
            await run_pass(runtime)
        converge = time.monotonic() - t0

        for sim in sims:
            sim.control.clear_requests()
        writes_before, pass_times = kube.status_writes, []
        for _ in range(passes):
            pass_times.append(await run_pass(runtime))
        stats_calls = sum(len(s.control.requests(STATS)) for s in sims)
        es_writes = sum(len(s.control.requests(method="POST")) for s in sims)
        steady_writes = kube.status_writes - writes_before

        # The pure layer never acts on a snapshot within 1 s of status.lastUpdateTime (second precision).
        await asyncio.sleep(max(0.0, 1.2 - (time.monotonic() - t0 - converge)))
        drifted = [i for i in range(resources) if i % 10 == 0]
        for i in drifted:
            sims[i // per_cluster].control.set_allocations(f"dep-{i}", number_of_allocations=2)
        for sim in sims:
            sim.control.clear_requests()
        await run_pass(runtime)
        updates = sum(len(s.control.requests("/_ml/trained_models/dep-", method="POST")) for s in sims)

        per_resource_ms = 1000 * sum(pass_times) / len(pass_times) / resources
        print(f"clusters={clusters} resources={resources} passes={passes}; converged in {converge:.1f}s")
        print(f"stats calls per pass / clusters          = {stats_calls / passes / clusters:.2f}  (target 1.00)")
        print(f"status writes per steady pass / resources = {steady_writes / passes / resources:.3f}  (target 0)")
        print(f"ES writes per steady pass                 = {es_writes / passes:.2f}  (target 0)")
        print(f"_update calls / drifted deployments       = {updates / len(drifted):.2f}  (target 1.00)")
        print(f"reconcile wall time per resource per pass = {per_resource_ms:.2f} ms")
        ok = stats_calls == passes * clusters and es_writes == 0 and updates == len(drifted)
        return 0 if ok else 1
    finally:
        await runtime.close()
        for sim in sims:
            await sim.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--per-cluster", type=int, default=100, help="at most 100: Elasticsearch's deployment cap")
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(main(args.clusters, args.per_cluster, args.passes)))
