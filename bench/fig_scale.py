"""Figures 2 (scale: N resources on M clusters, against a naive per-resource poller) and 3 (restart: one replica
with ``--no-leader-election``, then with leader election as installed, ``bench/fig_restart.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.es import EsRequest, SimApi, per_interval
from bench.fig_capacity import capacity_note, capacity_reads, capacity_rows, short_cluster
from bench.fig_restart import TARGET, elected_restarts
from bench.figures import Figure, Row
from bench.kube import delta
from bench.run import Run, mdep, operator_default
from harness.polling import TimedOut, wait_for_async


@dataclass(frozen=True)
class Steady:
    """One process's cost over a quiet window."""

    es_per_interval: list[float]  # per cluster
    capacity_per_interval: float  # _ml/info + _ml/memory/_stats per cluster (mean)
    es_writes: int
    api_writes: dict[str, int]  # by resource
    window: float
    rss_mb: float
    peak_rss_mb: float
    cpu_percent: float

    @property
    def api_writes_per_minute(self) -> float:
        return sum(self.api_writes.values()) * 60 / self.window


async def steady_window(run: Run, pid: int, sims: Sequence[SimApi], window: float, label: str) -> Steady:
    for sim in sims:
        await sim.clear_requests()
    writes_before = await run.kube.write_counts()
    # --profile: py-spy samples the operator's steady windows too (op-idle.txt for figure 2, op-fleet-idle.txt for
    # figure 7); not the naive operator's.
    profiled = {"steady": "op-idle", "fleet": "op-fleet-idle"}
    if label in profiled:
        run.fleet.profile(pid, profiled[label], window)
    cpu_before, start = procs.cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    cpu_after, elapsed = procs.cpu_seconds(pid), time.monotonic() - start
    writes = delta(await run.kube.write_counts(), writes_before)
    logs = [await sim.requests() for sim in sims]
    dump_requests(run.dir / f"es-requests-{label}.json", sims, logs)
    return Steady(
        es_per_interval=[per_interval(log, elapsed, run.sizes.resync) for log in logs],
        capacity_per_interval=statistics.mean(capacity_reads(log, elapsed, run.sizes.resync) for log in logs),
        es_writes=sum(1 for log in logs for r in log if r.is_write),
        api_writes=writes,
        window=elapsed,
        rss_mb=procs.rss_mb(pid),
        peak_rss_mb=procs.peak_rss_mb(pid),
        cpu_percent=100 * (cpu_after - cpu_before) / elapsed,
    )


def dump_requests(path: Path, sims: Sequence[SimApi], logs: Sequence[Sequence[EsRequest]]) -> None:
    """Keep what each simulator received in a window (time, method, path), for a look after the run."""
    seen = {sim.sim.name: [(r.wall_time, r.method, r.path) for r in log] for sim, log in zip(sims, logs, strict=True)}
    path.write_text(json.dumps(seen))


def import_seconds(source: Path | None) -> float:
    """A fresh interpreter importing the operator: the least a restart costs before it can watch anything."""
    start = time.monotonic()
    argv = [sys.executable, "-c", "import esml_operator.manager.registration"]
    subprocess.run(argv, check=True, env=procs.child_env(source))
    return time.monotonic() - start


# What the changed resource itself may write: its status twice (the _update's answer, then Ready) and an Event
# each time; QUICK's 200 resources would otherwise allow 2.
CHANGE_WRITES = 4


async def scale_restart(run: Run) -> list[Figure]:
    s = run.sizes
    started = time.monotonic()
    total = s.scale_clusters * s.per_cluster
    namespaces = [f"bench-scale-{i:02d}" for i in range(s.scale_clusters)]
    for namespace in namespaces:
        await run.namespace(namespace)
    sims = await run.simulators(s.scale_clusters, "scale")
    operator = procs.spawn_operator(
        run.fleet,
        run.dir / "op-scale",
        run.plane.kubeconfig,
        namespaces,
        resync_interval=s.resync,
        extra=run.operator_flags,
    )
    await operator.wait_healthy()
    bodies = [
        (namespace, mdep(f"md-{j:03d}", sims[i].sim.url, f"dep-{j:03d}"))
        for i, namespace in enumerate(namespaces)
        for j in range(s.per_cluster)
    ]
    t0 = time.monotonic()
    await run.create(bodies)
    created = time.monotonic() - t0
    waited, ready = await run.wait_ready(namespaces, total, within=s.ready_timeout)
    to_ready = created + waited

    await asyncio.sleep(s.resync)  # one resync pass after the last Ready: steady from here
    op = await steady_window(run, operator.proc.pid, sims, s.steady_window, "steady")
    drift = await drift_correction(run, sims, namespaces)
    short = await short_cluster(run, sims, namespaces[0])

    fig2 = Figure(2, "scale", f"Scale ({total} ModelDeployments on {s.scale_clusters} clusters)")
    fig3 = Figure(3, "restart", f"Restart (SIGKILL with {total} idle resources, start again)")
    restart_began = time.monotonic()
    import_s = import_seconds(run.fleet.source)
    t_list = time.monotonic()
    for namespace in namespaces:
        await run.kube.list_mdeps(namespace)
    list_s = time.monotonic() - t_list
    operator = await restart(run, fig3, operator, sims, namespaces, total, floor=import_s + list_s)
    run.fleet.stop(operator.proc)
    rows, notes = await elected_restarts(run, sims, namespaces, floor=import_s + list_s)
    fig3.rows += rows
    fig3.notes.append(
        f"floor = a fresh interpreter importing the operator ({import_s:.2f} s) + LIST of all ({list_s:.2f} s)"
    )
    fig3.notes += notes
    fig3.seconds = time.monotonic() - restart_began

    naive = await naive_window(run, sims, namespaces)
    for sim in sims:
        await sim.aclose()
        run.fleet.stop(sim.sim.proc)

    fig2.rows = scale_rows(run, op, naive, total, to_ready, created, ready, drift)
    fig2.rows += capacity_rows(op.capacity_per_interval, op.es_per_interval[0], short)
    fig2.notes += [*scale_notes(run, op, naive, total), capacity_note(short)]
    fig2.seconds = time.monotonic() - started - fig3.seconds  # the naive baseline is part of figure 2
    return [fig2, fig3]


def scale_rows(
    run: Run, op: Steady, naive: Steady, total: int, to_ready: float, created: float, ready: int, drift: tuple[int, int]
) -> list[Row]:
    s = run.sizes
    updates, drifted = drift
    minute = "per minute" if s.steady_window >= 60 else f"per minute (over {s.steady_window:.0f} s)"
    return [
        Row(
            "apply -> all Ready",
            to_ready,
            "s",
            None,
            created,
            "floor",
            "the API server creating them all",
            lower_bound=ready < total,
        ),
        Row(
            "ES requests per resync interval, per cluster",
            statistics.mean(op.es_per_interval),
            "requests",
            "<= 1",
            statistics.mean(naive.es_per_interval),
            "baseline",
            "naive per-resource timers",
            limit=1,
            digits=1,  # a poll that lands 0.1 s early in a 5 s interval reads as 1.02
        ),
        Row(
            f"API writes {minute}, steady",
            op.api_writes_per_minute,
            "writes",
            f"<= 1% of {total}",
            naive.api_writes_per_minute,
            "baseline",
            "naive per-resource timers",
            limit=total / 100,
        ),
        Row("RSS", op.rss_mb, "MB", "<= 250 MB", naive.rss_mb, "baseline", "naive per-resource timers", limit=250),
        Row(
            "idle CPU",
            op.cpu_percent,
            "% of a core",
            "<= 5%",
            naive.cpu_percent,
            "baseline",
            "naive per-resource timers",
            limit=5,
        ),
        Row("ES writes, steady", op.es_writes, "requests", "0", 0, "floor", "nothing changed", limit=0),
        Row(
            "_update per out-of-band drift",
            updates / drifted if drifted else 0.0,
            "calls",
            "= 1",
            1,
            "floor",
            "one correction per drifted deployment",
            limit=1,
            compare="==",
        ),
    ]


def scale_notes(run: Run, op: Steady, naive: Steady, total: int) -> list[str]:
    s = run.sizes
    notes = [
        f"steady window {op.window:.0f} s, {s.resync:.0f} s resync interval; ES requests per interval per cluster "
        f"max {max(op.es_per_interval):.2f} (naive: mean {statistics.mean(naive.es_per_interval):.1f}, "
        f"window {naive.window:.0f} s)",
        f"API writes in the window by resource: {op.api_writes or 'none'}; naive: {naive.api_writes or 'none'} "
        "(Lease renewals are not counted)",
        f"peak RSS {op.peak_rss_mb:.0f} MB (naive {naive.peak_rss_mb:.0f} MB)",
    ]
    heartbeat = operator_default("status_heartbeat", 0.0)
    if heartbeat > op.window:
        notes.append(
            f"--status-heartbeat defaults to {heartbeat:.0f} s, longer than the window: its lastSyncTime rewrites "
            f"(about {total * 60 / heartbeat:.0f} writes/min for {total} resources) are not in this figure"
        )
    return notes


async def drift_correction(run: Run, sims: Sequence[SimApi], namespaces: Sequence[str]) -> tuple[int, int]:
    """Change some deployments behind the operator's back; ``_update`` calls it made, deployments drifted."""
    s = run.sizes
    step = max(1, round(1 / s.drift_fraction))
    drifted = [(sim, f"dep-{j:03d}") for sim in sims for j in range(0, s.per_cluster, step)]
    for sim in sims:
        await sim.clear_requests()
    for sim, deployment in drifted:
        await sim.set_allocations(deployment, 2)

    async def all_corrected() -> bool:
        corrected = 0
        for sim in sims:
            corrected += len({r.deployment for r in await sim.requests() if r.is_update and r.allocations == 1})
        return corrected >= len(drifted)

    with contextlib.suppress(TimedOut):  # a shortfall shows in the figure's counts
        await wait_for_async(all_corrected, within=3 * s.resync + 10, interval=0.25, what="every drift corrected")
    await asyncio.sleep(2)  # a second, needless correction would show up here
    updates = 0
    for sim in sims:
        updates += sum(1 for r in await sim.requests() if r.is_update)
    return updates, len(drifted)


async def restart(
    run: Run,
    fig: Figure,
    operator: procs.Operator,
    sims: Sequence[SimApi],
    namespaces: Sequence[str],
    total: int,
    *,
    floor: float,
) -> procs.Operator:
    s = run.sizes
    await asyncio.sleep(2)
    run.fleet.kill(operator.proc)
    await run.kube.patch_scale(namespaces[0], "md-000", 3)  # made while no operator runs
    for sim in sims:
        await sim.clear_requests()
    writes_before = await run.kube.write_counts()
    operator = procs.spawn_operator(
        run.fleet,
        run.dir / "op-restart",
        run.plane.kubeconfig,
        namespaces,
        resync_interval=s.resync,
        extra=run.operator_flags,
    )
    window_end = operator.started + s.restart_window
    within = max(window_end, operator.started + 60) - time.time()
    reached = await sims[0].first_update("dep-000", 3, within=within)
    await asyncio.sleep(max(0.0, window_end - time.time()))
    writes = delta(await run.kube.write_counts(), writes_before)
    es_writes = [r for sim in sims for r in await sim.requests() if r.is_write and r.deployment != "dep-000"]
    status_writes = [e for e in run.watch_events(operator.started, window_end) if e["type"] == "MODIFIED"]
    window = "first minute" if s.restart_window >= 60 else f"first {s.restart_window:.0f} s (60 s in the full run)"
    waited = max(window_end, operator.started + 60) - operator.started
    fig.rows = [
        Row(
            "change made during the restart -> _update",
            (reached or time.time()) - operator.started,
            "s",
            f"<= {TARGET:g} s",
            floor,
            "floor",
            "interpreter start and imports + one LIST of all resources",
            limit=TARGET,
            lower_bound=reached is None,
        ),
        Row(
            f"API writes in the {window}",
            sum(writes.values()),
            "writes",
            f"<= 1% of {total}, at least {CHANGE_WRITES}",
            1,
            "floor",
            "the changed resource's status",
            limit=max(total / 100, CHANGE_WRITES),
        ),
        Row(
            "ES writes besides the changed deployment",
            len(es_writes),
            "requests",
            "0",
            0,
            "floor",
            "nothing else changed",
            limit=0,
        ),
    ]
    fig.notes.append(f"API writes in the window by resource: {writes or 'none'}")
    fig.notes.append(
        f"ModelDeployment writes seen by the bare watch client in the window: {len(status_writes)} "
        f"(on {len({(e['ns'], e['name']) for e in status_writes})} resources)"
    )
    if reached is None:
        fig.notes.append(f"the change never reached Elasticsearch within {waited:.0f} s")
    return operator


async def naive_window(
    run: Run, sims: Sequence[SimApi], namespaces: Sequence[str], *, window: float | None = None, label: str = "naive"
) -> Steady:
    """The naive operator's cost over ``window`` seconds (default: ``naive_window``) once every timer fired."""
    s = run.sizes
    clusters = run.dir / f"{label}-clusters.json"
    entry = {"ca": str(run.es_tls.ca), "api_key": procs.API_KEY}
    clusters.write_text(json.dumps({sim.sim.url: entry for sim in sims}))
    naive = procs.spawn_naive(
        run.fleet, run.dir / label, run.plane.kubeconfig, namespaces, interval=s.resync, clusters=clusters
    )
    try:
        await naive.wait_healthy()
        await asyncio.sleep(s.resync)  # every timer has fired once
        return await steady_window(run, naive.proc.pid, sims, window or s.naive_window, label)
    finally:
        run.fleet.stop(naive.proc)
