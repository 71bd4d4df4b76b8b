"""Figure 1's event-loop rows: the operator's CPU per change on uvloop and on asyncio's own loop, side by side.

Two operators run at once, ``--event-loop uvloop`` and ``--event-loop asyncio``, each watching a namespace of
its own with the same number of resources on the same simulators. The changes alternate between the two
namespaces, so both processes meet the same machine (a busy one slows both alike); each one's CPU is divided by
the changes it served. The row's reference is uvloop's figure, so the ratio is asyncio's cost against uvloop's.
"""

from __future__ import annotations

from collections import Counter

from bench import procs
from bench.es import SimApi
from bench.figures import Row
from bench.latency import Target, collect, send_changes
from bench.run import Run, mdep

LOOPS = ("uvloop", "asyncio")


async def loop_rows(run: Run, sims: list[SimApi]) -> tuple[list[Row], list[str]]:
    """The rows and a note; nothing when this operator has no ``--event-loop`` (an older ``--source``)."""
    if "--event-loop" not in procs.operator_usage(run.fleet.source):
        return [], []
    s = run.sizes
    targets: list[Target] = []
    per_loop = max(2, s.latency_resources // 2)
    for loop in LOOPS:
        namespace = f"bench-loop-{loop}"
        await run.namespace(namespace)
        mine = [Target(namespace, f"{loop}-{i:03d}", f"{loop}-{i:03d}", sims[i % len(sims)]) for i in range(per_loop)]
        await run.create([(namespace, mdep(t.name, t.sim.sim.url, t.deployment)) for t in mine])
        targets += mine
    operators = {
        loop: procs.spawn_operator(
            run.fleet,
            run.dir / f"op-loop-{loop}",
            run.plane.kubeconfig,
            [f"bench-loop-{loop}"],
            resync_interval=s.resync,
            extra=[*run.operator_flags, "--event-loop", loop],
            name=f"operator-{loop}",
        )
        for loop in LOOPS
    }
    try:
        for operator in operators.values():
            await operator.wait_healthy()
        _, ready = await run.wait_ready([f"bench-loop-{loop}" for loop in LOOPS], len(targets), within=60)
        if ready < len(targets):
            raise RuntimeError(f"only {ready}/{len(targets)} ModelDeployments Ready after 60 s (event-loop rows)")
        await run.settled()  # the start-up status writes are over: measure steady operators
        interleaved = [t for pair in zip(targets[:per_loop], targets[per_loop:], strict=True) for t in pair]
        before = {loop: procs.cpu_seconds(op.proc.pid) for loop, op in operators.items()}
        sent = await send_changes(run.kube, interleaved, s.latency_changes, spacing=s.spacing, pair_every=s.pair_every)
        undelivered = await collect(sent, sims, within=s.delivery_timeout)
        spent = {loop: procs.cpu_seconds(op.proc.pid) - before[loop] for loop, op in operators.items()}
    finally:
        for operator in operators.values():
            run.fleet.stop(operator.proc)
    served = Counter(change.target.namespace.removeprefix("bench-loop-") for change in sent)
    per_change = {loop: 1000 * spent[loop] / served[loop] for loop in LOOPS}
    row = Row(
        "operator CPU per change on asyncio's event loop",
        per_change["asyncio"],
        "ms",
        None,
        per_change["uvloop"],
        "baseline",
        "the same on uvloop (the default), side by side in the same window",
    )
    note = (
        f"event loops: two operators at once (--event-loop uvloop and asyncio), {per_loop} resources each, "
        f"{served['uvloop']} and {served['asyncio']} changes alternating between them; CPU per change "
        f"{per_change['uvloop']:.2f} ms on uvloop, {per_change['asyncio']:.2f} ms on asyncio"
        + (f"; {undelivered} changes never reached Elasticsearch" if undelivered else "")
    )
    return [row], [note]
