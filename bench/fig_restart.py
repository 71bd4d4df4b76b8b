"""Figure 3's restarts under leader election, as an installation runs (``--leader-election`` is the default).

The bench's other figures run one replica with ``--no-leader-election``. Installed, the operator campaigns for
a Lease; after a SIGKILL that Lease still names the dead process until it expires (``--lease-duration``, 15 s
by default). A replacement pod has a new identity (``POD_NAME``) and must wait for that; a container restarted
in its pod keeps its identity and renews the Lease at once. Each row is counted, as a user would, from the new
process's start to the ``_update`` of a change made while no operator ran; the replacement pod's is also
counted from the moment the dead leader's Lease ran out, the part the operator controls (taking a Lease that has
not run out would let two replicas act, if the old one were only cut off and not dead).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bench import procs
from bench.es import SimApi
from bench.figures import Row
from bench.run import Run, operator_default
from harness.polling import wait_for_async

LEASE_NAMESPACE, LEASE = "default", "bench-restart"
TARGET = 5.0  # seconds (issue 20)


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def lease_left(run: Run, at: float) -> float:
    """Seconds the Lease was still valid at wall time ``at`` (as its holder last renewed it)."""
    lease = await run.kube.get_lease(LEASE_NAMESPACE, LEASE)
    spec = (lease or {}).get("spec") or {}
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not renewed:
        return 0.0
    return max(0.0, _parse_time(str(renewed)) + float(spec.get("leaseDurationSeconds") or 0) - at)


class Elected:
    """Operators with leader election (the installed default), one identity each, on the scale figure's resources."""

    def __init__(self, run: Run, sims: Sequence[SimApi], namespaces: Sequence[str]) -> None:
        self.run, self.sims, self.namespaces = run, sims, namespaces
        self.count = 0

    def spawn(self, identity: str) -> procs.Operator:
        self.count += 1
        s = self.run.sizes  # the full run's are the defaults; QUICK's are shorter
        election = (
            *("--leader-election", "--lease-name", LEASE, "--identity", identity),
            *("--lease-duration", f"{s.lease_duration:g}", "--renew-deadline", f"{s.renew_deadline:g}"),
            *("--retry-period", f"{s.retry_period:g}"),
        )
        return procs.spawn_operator(
            self.run.fleet,
            self.run.dir / f"op-elected-{self.count}",
            self.run.plane.kubeconfig,
            self.namespaces,
            resync_interval=self.run.sizes.resync,
            extra=election,
            name=f"operator-{identity}",
        )

    async def leading(self, identity: str, operator: procs.Operator) -> None:
        async def held() -> bool:
            lease = await self.run.kube.get_lease(LEASE_NAMESPACE, LEASE)
            return bool(lease) and (lease or {}).get("spec", {}).get("holderIdentity") == identity

        await wait_for_async(
            held, within=90, what=f"{identity} holding the Lease", processes=[operator.proc], interval=0.2
        )

    async def restart(
        self, old: procs.Operator, identity: str, allocations: int
    ) -> tuple[procs.Operator, float | None, float]:
        """SIGKILL ``old``, change md-000 while nothing runs, start ``identity``: the new operator, seconds from
        its start to the change's ``_update`` (None: not within a minute), and the Lease's validity left then."""
        self.run.fleet.kill(old.proc)
        await self.run.kube.patch_scale(self.namespaces[0], "md-000", allocations)
        await self.sims[0].clear_requests()
        new = self.spawn(identity)
        left = await lease_left(self.run, new.started)
        reached = await self.sims[0].first_update("dep-000", allocations, within=60)
        return new, None if reached is None else reached - new.started, left


async def elected_restarts(
    run: Run, sims: Sequence[SimApi], namespaces: Sequence[str], floor: float
) -> tuple[list[Row], list[str]]:
    """Rows: a replacement pod (new identity) and a container restart (same identity), both after a SIGKILL."""
    elected = Elected(run, sims, namespaces)
    first = elected.spawn("bench-a")
    try:
        await elected.leading("bench-a", first)
        await run.settled(quiet=1.0)  # its start-up passes are over
        second, replaced, left = await elected.restart(first, "bench-b", 4)
        await elected.leading("bench-b", second)
        await run.settled(quiet=1.0)
        third, restarted, left_same = await elected.restart(second, "bench-b", 5)
        run.fleet.stop(third.proc)
    finally:
        for proc in list(run.fleet.processes):
            if proc.name.startswith("operator-bench-"):
                run.fleet.stop(proc)
    rows = [
        *replacement_rows(replaced, left, floor),
        restart_row("the container restarted in its pod (same identity)", restarted, floor, "as without election"),
    ]
    s = run.sizes
    defaults = (operator_default("lease_duration", 15.0), operator_default("retry_period", 2.0))
    which = "the defaults" if (s.lease_duration, s.retry_period) == defaults else "QUICK's, the defaults are 15 s, 2 s"
    note = (
        f"with leader election (lease {s.lease_duration:g} s, retry {s.retry_period:g} s, {which}): the dead "
        f"leader's Lease had {left:.1f} s left when the replacement started ({left_same:.1f} s when the same "
        "identity started again)"
    )
    return rows, [note]


def replacement_rows(seconds: float | None, left: float, floor: float) -> list[Row]:
    """A replacement pod's wait from its start (no target: it includes the ``left`` seconds of the dead leader's
    Lease), and from the Lease running out (issue 20's 5 s)."""
    since_expiry = None if seconds is None else max(0.0, seconds - left)
    return [
        restart_row(
            "a replacement pod (new identity)", seconds, floor + left, "the old Lease running out + the floor", None
        ),
        restart_row(
            "a replacement pod (new identity), counted from the old Lease running out",
            since_expiry,
            floor,
            "as without election",
        ),
    ]


def restart_row(who: str, seconds: float | None, floor: float, what: str, limit: float | None = TARGET) -> Row:
    """``limit`` None: reported without a target (the Lease's wait is the price of one actor, by design)."""
    return Row(
        f"change made during the restart -> _update, leader election, {who}",
        60.0 if seconds is None else seconds,
        "s",
        None if limit is None else f"<= {limit:g} s",
        floor,
        "floor",
        f"{what} (interpreter start and imports + one LIST of all)",
        limit=limit,
        lower_bound=seconds is None,
    )
