"""Figure 6: reaction latency on a healthy cluster beside resources on a cluster that accepts and never answers."""

from __future__ import annotations

import asyncio
import math
import time

from bench import procs
from bench.blackhole import BlackHole
from bench.fig_latency import measure_latency
from bench.figures import Figure, Row
from bench.latency import Target
from bench.run import Run, mdep
from harness.status import is_ready

DEAD, LIVE = "bench-iso-dead", "bench-iso-live"


async def wait_reported(run: Run, total: int, *, within: float) -> int:
    """Wait until the hung cluster's resources say so (Ready False); how many did."""
    deadline = time.monotonic() + within
    while True:
        reported = sum(1 for obj in await run.kube.list_mdeps(DEAD) if is_ready(obj, "False"))
        if reported >= total or time.monotonic() > deadline:
            return reported
        await asyncio.sleep(0.5)


async def isolation(run: Run) -> list[Figure]:
    s = run.sizes
    started = time.monotonic()
    reference = run.results.get("latency_p50")
    if reference is None or not math.isfinite(reference):
        raise RuntimeError("figure 1 has no finite p50 to compare against")
    hole = BlackHole()
    port = await hole.start()
    try:
        for namespace in (DEAD, LIVE):
            await run.namespace(namespace)
        (sim,) = await run.simulators(1, "iso")
        operator = procs.spawn_operator(
            run.fleet, run.dir / "op-isolation", run.plane.kubeconfig, [DEAD, LIVE],
            resync_interval=s.resync, extra=run.operator_flags,
        )  # fmt: skip
        await operator.wait_healthy()
        dead_url = f"https://127.0.0.1:{port}"
        await run.create((DEAD, mdep(f"dead-{i:03d}", dead_url, f"dead-{i:03d}")) for i in range(s.dead_resources))
        await asyncio.sleep(2)  # as in the report that found it: the healthy ones come 2 s later
        targets = [Target(LIVE, f"live-{i:03d}", f"live-{i:03d}", sim) for i in range(s.live_resources)]
        await run.create((LIVE, mdep(t.name, sim.sim.url, t.deployment)) for t in targets)
        to_ready, ready = await run.wait_ready([LIVE], len(targets), within=s.isolation_ready_timeout)
        # Measure beside a cluster already known to be dead (its resources report it), not during that report.
        reported = await wait_reported(run, s.dead_resources, within=s.isolation_ready_timeout)
        await asyncio.sleep(2)  # as in figure 1: measure a settled operator
        measuring = time.time()
        summary, _, _ = await measure_latency(run, targets, [sim], s.isolation_changes, operator.proc)
        dead_writes = [e for e in run.watch_events(measuring) if e["ns"] == DEAD and e["type"] == "MODIFIED"]
        run.fleet.stop(operator.proc)
        await sim.aclose()
        run.fleet.stop(sim.sim.proc)
    finally:
        await hole.stop()

    fig = Figure(6, "isolation", f"Isolation ({s.live_resources} healthy beside {s.dead_resources} on a hung cluster)")
    what = "figure 1's p50 (no dead cluster)"

    def late(value: float) -> tuple[float, bool]:
        return (1000 * s.delivery_timeout, True) if math.isinf(value) else (value, False)

    p50, p50_late = late(summary.latency[50])
    p99, p99_late = late(summary.latency[99])
    fig.rows = [
        Row(
            "healthy-cluster p50", p50, "ms", "<= 1.5x figure 1 p50", reference, "baseline", what,
            limit=1.5 * reference, lower_bound=p50_late,
        ),
        Row("healthy-cluster p99", p99, "ms", None, reference, "baseline", what, lower_bound=p99_late),
        Row(
            "healthy resources Ready", ready, "resources", f"= {len(targets)}", len(targets), "floor",
            "all of them", limit=len(targets), compare="==",
        ),
    ]  # fmt: skip
    fig.notes.append(
        f"{summary.count} changes; {ready}/{len(targets)} healthy resources Ready after {to_ready:.1f} s; "
        f"{reported}/{s.dead_resources} hung-cluster resources reported Ready False before the changes; "
        f"the hung endpoint accepted {hole.connections} connections; {len(dead_writes)} writes to its resources "
        "while the changes were measured"
    )
    if summary.undelivered:
        fig.notes.append(f"{summary.undelivered} changes never reached Elasticsearch within {s.delivery_timeout} s")
    fig.seconds = time.monotonic() - started
    return [fig]
