"""Figure 6: reaction latency on a healthy cluster from the moment another cluster goes dark.

Two simulators; the second is reached only through a :class:`~bench.blackhole.DarkProxy`. Resources on both
become Ready, and reaction latency on the healthy cluster is measured once (the p50 without a dark cluster, on
the same operator). Then the proxy goes dark (it forwards nothing, accepts and holds every connection) and
every resource on the dark cluster gets a /scale change at once, so each sends an ``_update`` that waits out
the request timeout; the healthy cluster's latency is measured again from that moment, while they are still
timing out (the note says how many of them had reported it by the end: a measurement taken only after they all
had would miss what the issue found).
"""

from __future__ import annotations

import asyncio
import math
import time

import httpx

from bench import procs
from bench.blackhole import DarkProxy
from bench.fig_latency import measure_latency
from bench.figures import Figure, Row
from bench.latency import Summary, Target
from bench.run import Run, mdep
from harness.status import is_ready

DEAD, LIVE = "bench-iso-dead", "bench-iso-live"


async def reported(run: Run) -> int:
    """The dark cluster's resources that say so (Ready False)."""
    return sum(1 for obj in await run.kube.list_mdeps(DEAD) if is_ready(obj, "False"))


async def go_dark(run: Run, proxy: DarkProxy, names: list[str]) -> float:
    """The proxy goes dark; every resource on it gets a change (an ``_update`` into the dark). The moment."""
    dark = proxy.go_dark()
    await asyncio.gather(*(run.kube.patch_scale(DEAD, name, 2) for name in names))
    return dark


async def isolation(run: Run) -> list[Figure]:
    s = run.sizes
    started = time.monotonic()
    for namespace in (DEAD, LIVE):
        await run.namespace(namespace)
    live, behind = await run.simulators(2, "iso")
    proxy = DarkProxy("127.0.0.1", httpx.URL(behind.sim.url).port or 443)
    port = await proxy.start()
    try:
        operator = procs.spawn_operator(
            run.fleet,
            run.dir / "op-isolation",
            run.plane.kubeconfig,
            [DEAD, LIVE],
            resync_interval=s.resync,
            extra=run.operator_flags,
        )
        await operator.wait_healthy()
        dead_url = f"https://127.0.0.1:{port}"
        names = [f"dead-{i:03d}" for i in range(s.dead_resources)]
        await run.create((DEAD, mdep(name, dead_url, name)) for name in names)
        targets = [Target(LIVE, f"live-{i:03d}", f"live-{i:03d}", live) for i in range(s.live_resources)]
        await run.create((LIVE, mdep(t.name, live.sim.url, t.deployment)) for t in targets)
        to_ready, ready = await run.wait_ready(
            [DEAD, LIVE], len(names) + len(targets), within=s.isolation_ready_timeout
        )
        await run.settled()  # as in figure 1: measure a settled operator
        before, _, _ = await measure_latency(run, targets, [live], s.isolation_changes, operator.proc)
        dark = await go_dark(run, proxy, names)
        during, _, _ = await measure_latency(run, targets, [live], s.isolation_changes, operator.proc)
        ended = time.time()
        told = await reported(run)
        dead_writes = [e for e in run.watch_events(dark) if e["ns"] == DEAD and e["type"] == "MODIFIED"]
        run.fleet.stop(operator.proc)
    finally:
        await proxy.stop()
        for sim in (live, behind):
            await sim.aclose()
            run.fleet.stop(sim.sim.proc)

    fig = Figure(
        6, "isolation", f"Isolation ({s.live_resources} healthy beside {s.dead_resources} on a cluster that goes dark)"
    )
    fig.rows = isolation_rows(run, before, during, ready, len(names) + len(targets))
    fig.notes.append(
        f"{during.count} changes from the moment the cluster went dark, the last answered "
        f"{ended - dark:.1f} s after it; "
        f"{told}/{len(names)} dark-cluster resources had reported it (Ready False) by then, the others were still "
        f"waiting on their requests; {len(dead_writes)} writes to their status meanwhile; the dark endpoint "
        f"accepted {proxy.dark_connections} new connections; all {ready} resources were Ready after {to_ready:.1f} s"
    )
    for label, summary in (("before", before), ("while dark", during)):
        if summary.undelivered:
            fig.notes.append(
                f"{label}: {summary.undelivered} changes never reached Elasticsearch in {s.delivery_timeout} s"
            )
    fig.seconds = time.monotonic() - started
    return [fig]


def isolation_rows(run: Run, before: Summary, during: Summary, ready: int, total: int) -> list[Row]:
    s = run.sizes
    reference = before.latency[50]
    what = "the same operator's p50 before the other cluster went dark"

    def late(value: float) -> tuple[float, bool]:
        return (1000 * s.delivery_timeout, True) if math.isinf(value) else (value, False)

    p50, p50_late = late(during.latency[50])
    p99, p99_late = late(during.latency[99])
    return [
        Row(
            "healthy-cluster p50 from the moment a cluster goes dark",
            p50,
            "ms",
            "<= 1.5x the p50 without it",
            reference,
            "baseline",
            what,
            limit=round(1.5 * reference, 2),
            lower_bound=p50_late,
        ),
        Row(
            "healthy-cluster p99 from the moment a cluster goes dark",
            p99,
            "ms",
            None,
            before.latency[99],
            "baseline",
            "the same operator's p99 before",
            lower_bound=p99_late,
        ),
        Row(
            "resources Ready before going dark",
            ready,
            "resources",
            f"= {total}",
            total,
            "floor",
            "all of them",
            limit=total,
            compare="==",
        ),
    ]
