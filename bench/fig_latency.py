"""Figures 1 (reaction latency against its floor, its tail and its causes, and what one change costs in API
writes, watch events and ES requests: ``bench/cost.py``) and 5 (churn: 500 changes to one resource in 5 s).

Figure 1 is measured at the run's resync interval and, when that is not already
it, again at ``--resync-interval 5`` on a fresh operator: a short interval puts
more changes inside a resync round, where they once waited for its poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench import procs, tail
from bench.cost import change_cost, cost_note, cost_rows
from bench.es import SimApi
from bench.figures import Figure, Row
from bench.latency import Summary, Target, add_watch_delivery, collect, send_changes, summarize
from bench.loops import loop_rows
from bench.run import Run, mdep
from harness.polling import TimedOut, wait_for_async
from harness.process import Process

NAMESPACE = "bench-latency"
CHURN = "churn-0"
SHORT_RESYNC = 5.0  # figure 1 is also measured at this --resync-interval


@dataclass(frozen=True)
class Cpu:
    """CPU seconds the operator and the bare watcher spent while the changes went out and arrived."""

    operator: float
    watcher: float


async def measure_latency(
    run: Run, targets: list[Target], sims: list[SimApi], changes: int, operator: Process
) -> tuple[Summary, float, Cpu]:
    """Send ``changes`` /scale changes; the latency summary, the simulator round trip (ms) measured beside it,
    and the CPU time spent meanwhile."""
    rtt = statistics.median([await sim.round_trip_ms() for sim in sims])
    for sim in sims:
        await sim.clear_requests()
    s = run.sizes
    watcher = run.watcher.pid if run.watcher else None
    before = (procs.cpu_seconds(operator.pid), procs.cpu_seconds(watcher) if watcher else math.nan)
    sent = await send_changes(run.kube, targets, changes, spacing=s.spacing, pair_every=s.pair_every)
    undelivered = await collect(sent, sims, within=s.delivery_timeout)
    cpu = Cpu(
        procs.cpu_seconds(operator.pid) - before[0],
        procs.cpu_seconds(watcher) - before[1] if watcher else math.nan,
    )
    add_watch_delivery(sent, run.watch_log)
    return summarize(sent, undelivered), rtt, cpu


def cpu_row(cpu: Cpu, changes: int) -> Row:
    """The operator's CPU per change (everything it did: watch, pass, _update, status write, event, echo events)."""
    return Row(
        "operator CPU per change",
        1000 * cpu.operator / changes,
        "ms",
        None,
        1000 * cpu.watcher / changes,
        "floor",
        "the bare watch client's CPU per change (it only receives and parses the events)",
    )


def latency_rows(summary: Summary, rtt: float, timeout: float) -> list[Row]:
    """p50/p95/p99 against the floor at the same percentile; a change never delivered counts as infinitely late."""
    floor = {p: summary.watch[p] + rtt for p in (50, 95, 99)}
    what = "bare watch delivery + one keep-alive HTTPS round trip to the simulator"

    def row(metric: str, value: float, ref: float, target: str | None, limit: float | None) -> Row:
        late = math.isinf(value)  # shown as what we waited for: the real value is larger
        return Row(
            metric,
            1000 * timeout if late else value,
            "ms",
            target,
            ref,
            "floor",
            what,
            limit=limit,
            lower_bound=late,
        )

    return [
        row("p50", summary.latency[50], floor[50], "<= 2x floor", 2 * floor[50]),
        row("p95", summary.latency[95], floor[95], None, None),
        row("p99", summary.latency[99], floor[99], "<= 50 ms", 50.0),
        row("back-to-back 2nd change p50", summary.pairs, floor[50], None, None),
    ]


def tail_rows(summary: Summary, rtt: float, log: Path, label: str = "") -> tuple[list[Row], str]:
    """The changes over 100 ms against those whose floor alone was over it, and their causes (a note)."""
    changes = summary.changes
    counted = tail.causes(changes, log.read_text(errors="replace").splitlines(), floor_ms=rtt)
    floor = sum(1 for c in changes if c.watch_ms + rtt > tail.SLOW_MS)
    row = Row(
        f"changes over {tail.SLOW_MS:.0f} ms{label}",
        sum(counted.values()),
        "changes",
        None,
        floor,
        "floor",
        f"changes whose bare watch delivery + round trip alone took over {tail.SLOW_MS:.0f} ms",
    )
    return [row], f"tail{label}: {tail.summary(counted, summary.count)} (causes from the operator's timing lines)"


async def at_short_resync(run: Run, targets: list[Target], sims: list[SimApi]) -> tuple[list[Row], list[str]]:
    """Figure 1's p50/p99 and tail again on an operator with ``--resync-interval 5``."""
    s, label = run.sizes, f" at --resync-interval {SHORT_RESYNC:g}"
    operator = procs.spawn_operator(
        run.fleet,
        run.dir / "op-latency-short-resync",
        run.plane.kubeconfig,
        [NAMESPACE],
        resync_interval=SHORT_RESYNC,
        extra=run.operator_flags,
    )
    try:
        await operator.wait_healthy()
        await asyncio.sleep(2)  # its start-up passes over resources already Ready
        summary, rtt, _ = await measure_latency(run, targets, sims, s.latency_changes, operator.proc)
    finally:
        run.fleet.stop(operator.proc)
    rows = [r for r in latency_rows(summary, rtt, s.delivery_timeout) if r.metric in ("p50", "p99")]
    for r in rows:
        r.metric += label
    tails, note = tail_rows(summary, rtt, operator.proc.log, label)
    return [*rows, *tails], [note]


async def latency_and_churn(run: Run) -> list[Figure]:
    s = run.sizes
    started = time.monotonic()
    await run.namespace(NAMESPACE)
    sims = await run.simulators(s.latency_clusters, "lat")
    operator = procs.spawn_operator(
        run.fleet,
        run.dir / "op-latency",
        run.plane.kubeconfig,
        [NAMESPACE],
        resync_interval=s.resync,
        extra=run.operator_flags,
    )
    await operator.wait_healthy()
    spy = run.fleet.profile(operator.proc.pid, "op-latency")
    targets = [
        Target(NAMESPACE, f"lat-{i:03d}", f"lat-{i:03d}", sims[i % len(sims)]) for i in range(s.latency_resources)
    ]
    bodies = [(NAMESPACE, mdep(t.name, t.sim.sim.url, t.deployment)) for t in targets]
    bodies.append((NAMESPACE, mdep(CHURN, sims[0].sim.url, CHURN)))
    await run.create(bodies)
    _, ready = await run.wait_ready([NAMESPACE], len(bodies), within=60)
    if ready < len(bodies):
        raise RuntimeError(f"only {ready}/{len(bodies)} ModelDeployments Ready after 60 s; see {operator.proc.log}")
    await run.settled()  # the start-up status writes are over: measure a steady operator

    writes_before = await run.kube.write_counts()
    summary, rtt, cpu = await measure_latency(run, targets, sims, s.latency_changes, operator.proc)
    cost = await change_cost(run, summary.changes, sims, writes_before)
    run.results["latency_p50"] = summary.latency[50]
    run.results["latency_floor_s"] = (summary.watch[50] + rtt) / 1000
    fig1 = Figure(1, "reaction_latency", "Reaction latency (/scale PATCH ack -> _update received)")
    tails, tail_note = tail_rows(summary, rtt, operator.proc.log)
    fig1.rows = [*latency_rows(summary, rtt, s.delivery_timeout), *tails, cpu_row(cpu, summary.count), *cost_rows(cost)]
    pairs = s.latency_changes // (s.pair_every + 1)
    fig1.notes.append(
        f"--resync-interval {s.resync:g}{' (QUICK)' if s.quick else ''}: "
        f"{summary.count} changes on {summary.resources} resources over {s.latency_clusters} simulator(s), "
        f"one slot every {s.spacing * 1000:.0f} ms, about {pairs} back-to-back pairs; floor = bare watch delivery "
        f"(p50/p95/p99 {summary.watch[50]:.1f}/{summary.watch[95]:.1f}/{summary.watch[99]:.1f} ms) "
        f"+ {rtt:.1f} ms simulator round trip"
    )
    fig1.notes += [tail_note, cost_note(cost)]
    if summary.undelivered:
        fig1.notes.append(f"{summary.undelivered} changes never reached Elasticsearch within {s.delivery_timeout} s")
    fig1.seconds = time.monotonic() - started

    started = time.monotonic()
    fig5 = await churn(run, sims[0])
    fig5.seconds = time.monotonic() - started
    run.fleet.stop(operator.proc)
    if spy is not None:  # py-spy writes its profile when the operator has exited
        await wait_for_async(lambda: not spy.alive(), within=30, what="py-spy's profile")
    started_loops = time.monotonic()
    rows, notes = await loop_rows(run, sims)
    fig1.rows += rows
    fig1.notes += notes
    fig1.seconds += time.monotonic() - started_loops
    if s.resync != SHORT_RESYNC:
        started_short = time.monotonic()
        rows, notes = await at_short_resync(run, targets, sims)
        fig1.rows += rows
        fig1.notes += notes
        fig1.seconds += time.monotonic() - started_short
    for sim in sims:
        await sim.aclose()
        run.fleet.stop(sim.sim.proc)
    return [fig1, fig5]


async def churn(run: Run, sim: SimApi) -> Figure:
    s = run.sizes
    await sim.clear_requests()
    begin = time.time()
    start = time.monotonic()
    step = s.churn_seconds / s.churn_changes

    slots = iter(range(s.churn_changes))

    async def worker() -> None:
        # Two in flight at most: more only makes the API server retry conflicting updates of one object.
        for i in slots:
            await asyncio.sleep(max(0.0, start + i * step - time.monotonic()))
            await run.kube.patch_scale(NAMESPACE, CHURN, i % 4 + 1)

    await asyncio.gather(worker(), worker())
    took = time.monotonic() - start
    final = int((await run.kube.get_mdep(NAMESPACE, CHURN))["spec"]["numberOfAllocations"])

    async def arrived() -> bool:
        return await sim.allocations(CHURN) == final

    with contextlib.suppress(TimedOut):  # the row reports what Elasticsearch holds either way
        await wait_for_async(arrived, within=max(30.0, 3 * s.resync), interval=0.25, what="the final count in ES")
    await asyncio.sleep(2)  # late calls would still count
    es_value = await sim.allocations(CHURN)
    updates = [r for r in await sim.requests() if r.is_update and r.deployment == CHURN]
    # Spec changes the bare watch client saw (new generations; the operator's status writes do not count).
    delivered = {e["gen"] for e in run.watch_events(begin) if e["name"] == CHURN and e["ns"] == NAMESPACE}

    fig = Figure(5, "churn", f"Churn ({s.churn_changes} /scale changes to one resource in {s.churn_seconds:.0f} s)")
    fig.rows = [
        Row(
            "_update calls",
            len(updates),
            "calls",
            "<= 20",
            len(delivered),
            "baseline",
            "one call per spec change the bare watch client saw",
            limit=20,
        ),
        Row(
            "Elasticsearch allocations at the end",
            es_value if es_value is not None else -1,
            "allocations",
            f"= final spec ({final})",
            final,
            "floor",
            "the final spec",
            limit=final,
            compare="==",
        ),
    ]
    fig.notes.append(
        f"the {s.churn_changes} PATCHes took {took:.2f} s; {len(delivered)} generations seen by the bare watch client"
    )
    if took > 1.5 * s.churn_seconds:
        fig.notes.append(
            f"CAUTION: the API server took {took:.1f} s, not {s.churn_seconds:.0f} s, for the PATCHes (busy machine): "
            "a longer burst legitimately needs more calls, so the call count is not comparable to its target"
        )
    return fig
