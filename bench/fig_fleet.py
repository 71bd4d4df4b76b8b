"""Figure 7: the fleet. N ModelDeployments on M Elasticsearch clusters (issue 20: 10,000 on 100; ``QUICK``:
100 on 10), against the naive kopf operator (``bench/naive_operator.py``) at the same count.

Each cluster is a simulated cluster of its own (its own port and ``cluster_uuid``), ten to a simulator process
where the simulator serves several (``--clusters``), else one per process; the resources are spread over a few
namespaces, each cluster's in one. The order is: the naive operator on the empty namespaces (its RSS with
nothing to watch), the operator (its RSS before anything exists), apply everything, wait for all Ready, one
resync interval, a steady window (RSS, idle CPU, ES requests per resync interval per cluster, API writes), then
the naive operator on all of it (one timer per resource) over its own window.

"KB per resource" is (RSS with N resources - RSS with none) / N for each process: what one more resource costs,
the interpreter and the libraries left out. Where that memory goes inside the operator (kopf's per-object
state against ours) is ``python -m bench.memory``'s breakdown, not this figure's.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from bench import procs, tracemem
from bench.es import SimApi
from bench.fig_scale import Steady, naive_window, steady_window
from bench.figures import Figure, Row
from bench.run import Run, is_ready, mdep, ready_within
from harness.commands import OPERATOR_MODULE
from harness.polling import wait_for_async

PREFIX = "bench-fleet-"
RSS_TARGET = 1.2  # x the naive kopf operator's RSS at the same count (issue 20)
CPU_TARGET = 10.0  # % of a core
CLUSTERS_PER_PROCESS = 10  # simulated clusters per simulator process, where it serves several (--clusters)


def namespaces_for(clusters: int, per_namespace: int) -> list[str]:
    """One namespace per ``per_namespace`` clusters (all of a cluster's resources in one namespace)."""
    return [f"{PREFIX}{i:02d}" for i in range(max(1, -(-clusters // per_namespace)))]


async def ready_in(run: Run, prefix: str) -> int:
    """Ready ModelDeployments in the namespaces that start with ``prefix`` (one paged LIST of all namespaces)."""
    items = await run.kube.list_mdeps()
    return sum(1 for obj in items if obj["metadata"]["namespace"].startswith(prefix) and is_ready(obj))


async def wait_all_ready(run: Run, total: int, *, within: float) -> tuple[float, int]:
    return await ready_within(lambda: ready_in(run, PREFIX), total, within=within, interval=5.0)


async def idle_rss(run: Run, sims: Sequence[SimApi], namespaces: Sequence[str]) -> float:
    """The naive operator's RSS when its namespaces are still empty (its interpreter, kopf and httpx)."""
    clusters = run.dir / "naive-fleet-empty-clusters.json"
    entry = {"ca": str(run.es_tls.ca), "api_key": procs.API_KEY}
    clusters.write_text(json.dumps({sim.sim.url: entry for sim in sims}))
    naive = procs.spawn_naive(
        run.fleet,
        run.dir / "naive-fleet-empty",
        run.plane.kubeconfig,
        namespaces,
        interval=run.sizes.resync,
        clusters=clusters,
    )
    try:
        await naive.wait_healthy()
        await asyncio.sleep(2)  # its watches are up
        return procs.rss_mb(naive.proc.pid)
    finally:
        run.fleet.stop(naive.proc)


async def fleet(run: Run) -> list[Figure]:
    s = run.sizes
    started = time.monotonic()
    total = s.fleet_clusters * s.fleet_per_cluster
    namespaces = namespaces_for(s.fleet_clusters, s.fleet_clusters_per_namespace)
    for namespace in namespaces:
        await run.namespace(namespace)
    per_process = CLUSTERS_PER_PROCESS if procs.simulator_clusters(run.fleet.source) else 1
    sims = await run.simulators(s.fleet_clusters, "fleet", per_process=per_process)
    naive_empty = await idle_rss(run, sims, namespaces)
    memory = run.fleet.memory_dir
    operator = procs.spawn_operator(
        run.fleet,
        run.dir / "op-fleet",
        run.plane.kubeconfig,
        namespaces,
        resync_interval=s.resync,
        extra=run.operator_flags,
        module=("-m", "bench.tracemem", str(memory), "--") if memory else OPERATOR_MODULE,
    )
    await operator.wait_healthy()
    await asyncio.sleep(2)
    ours_empty = procs.rss_mb(operator.proc.pid)
    empty_snapshot = await snapshot(operator, memory, 0)
    bodies = [
        (namespaces[i // s.fleet_clusters_per_namespace], mdep(f"c{i:03d}-{j:03d}", sim.sim.url, f"dep-{j:03d}"))
        for i, sim in enumerate(sims)
        for j in range(s.fleet_per_cluster)
    ]
    t0 = time.monotonic()
    await run.create(bodies, concurrency=32)
    created = time.monotonic() - t0
    waited, ready = await wait_all_ready(run, total, within=s.fleet_ready_timeout)
    await asyncio.sleep(s.resync)  # one resync pass after the last Ready: steady from here
    ours = await steady_window(run, operator.proc.pid, sims, s.fleet_window, "fleet")
    full_snapshot = await snapshot(operator, memory, 1)
    run.fleet.stop(operator.proc)
    window = s.naive_window if s.quick else s.fleet_window  # QUICK: one resync interval of the baseline
    naive = await naive_window(run, sims, namespaces, window=window, label="naive-fleet")
    for sim in sims:
        await sim.aclose()
        run.fleet.stop(sim.sim.proc)  # a process serving several clusters stops with the first of them

    fig = Figure(7, "fleet", f"Fleet ({total} ModelDeployments on {s.fleet_clusters} clusters)")
    fig.rows = fleet_rows(ours, naive, created + waited, created, ready < total, total)
    fig.rows.append(per_resource_row(ours.rss_mb - ours_empty, naive.rss_mb - naive_empty, total))
    fig.notes += fleet_notes(ours, naive, total, (ours_empty, naive_empty), ready, len(namespaces))
    if empty_snapshot is not None and full_snapshot is not None:
        fig.notes.append(memory_note(empty_snapshot, full_snapshot, total))
    fig.seconds = time.monotonic() - started
    return [fig]


async def snapshot(operator: procs.Operator, memory: Path | None, n: int) -> dict[str, list[int]] | None:
    """Ask the operator under ``bench.tracemem`` for its ``n``-th snapshot (None when not profiling memory)."""
    if memory is None:
        return None
    os.kill(operator.proc.pid, signal.SIGUSR1)
    path = memory / f"snapshot-{n}.json"
    await wait_for_async(path.exists, within=300, what=f"tracemalloc snapshot {n}", processes=[operator.proc])
    found: dict[str, list[int]] = json.loads(path.read_text())
    return found


def memory_note(before: dict[str, list[int]], after: dict[str, list[int]], total: int) -> str:
    grown = tracemem.per_resource(before, after, total)
    top = ", ".join(f"{who} {size / 1024:.1f}" for who, size in list(grown.items())[:12])
    return f"tracemalloc, KB per resource by owner (all {sum(grown.values()) / 1024:.1f}): {top}"


def fleet_rows(ours: Steady, naive: Steady, to_ready: float, created: float, late: bool, total: int) -> list[Row]:
    """``late``: not all Ready when the wait (``fleet_ready_timeout``, at least the 5 min target) ended."""
    what = "the naive kopf operator (one timer per resource) at the same count"
    writes = sum(ours.api_writes.values())
    return [
        Row(
            "apply -> all Ready",
            to_ready,
            "s",
            "<= 5 min",
            created,
            "floor",
            "the API server creating them all",
            limit=300,
            lower_bound=late,
        ),
        Row(
            "RSS",
            ours.rss_mb,
            "MB",
            f"<= {RSS_TARGET:g}x naive",
            naive.rss_mb,
            "baseline",
            what,
            limit=round(RSS_TARGET * naive.rss_mb, 2),
        ),
        Row(
            "idle CPU",
            ours.cpu_percent,
            "% of a core",
            f"<= {CPU_TARGET:g}%",
            naive.cpu_percent,
            "baseline",
            what,
            limit=CPU_TARGET,
        ),
        Row(
            "ES requests per resync interval, per cluster",
            statistics.mean(ours.es_per_interval),
            "requests",
            "<= 1",
            statistics.mean(naive.es_per_interval),
            "baseline",
            what,
            limit=1,
            digits=1,  # a poll that lands 0.1 s early in a 5 s interval reads as 1.02
        ),
        Row(
            "API writes, steady",
            writes,
            "writes",
            "0",
            sum(naive.api_writes.values()),
            "baseline",
            what,
            limit=0,
            compare="==",
        ),
    ]


def per_resource_row(ours_mb: float, naive_mb: float, total: int) -> Row:
    return Row(
        "KB per resource",
        1024 * ours_mb / total,
        "KB",
        None,
        1024 * naive_mb / total,
        "baseline",
        "the naive kopf operator: (RSS with all of them - RSS with none) / count",
    )


def fleet_notes(
    ours: Steady, naive: Steady, total: int, empty: tuple[float, float], ready: int, namespaces: int
) -> list[str]:
    return [
        f"{ready}/{total} Ready; {namespaces} namespaces; steady window {ours.window:.0f} s "
        f"(naive {naive.window:.0f} s); ES requests per interval per cluster max {max(ours.es_per_interval):.2f}",
        f"RSS with no resources {empty[0]:.0f} MB (naive {empty[1]:.0f} MB); peak RSS {ours.peak_rss_mb:.0f} MB "
        f"(naive {naive.peak_rss_mb:.0f} MB)",
        f"API writes in the window by resource: {ours.api_writes or 'none'}; naive: {naive.api_writes or 'none'} "
        "(Lease renewals are not counted)",
    ]
