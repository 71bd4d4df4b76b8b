"""Figure 4: two replicas with leader election; SIGKILL the leader; a change must reach ES through the other."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from bench import procs
from bench.figures import Figure, Row
from bench.run import Run, mdep
from harness.polling import wait_for_async

NAMESPACE = "bench-failover"
LEASE = "bench-operator"
RESOURCES = 5


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def failover(run: Run) -> list[Figure]:
    s = run.sizes
    started = time.monotonic()
    fig = Figure(4, "failover", "Failover (2 replicas, SIGKILL the leader)")
    await run.namespace(NAMESPACE)
    (sim,) = await run.simulators(1, "failover")
    election = (
        "--leader-election",
        "--lease-namespace",
        NAMESPACE,
        "--lease-name",
        LEASE,
        "--lease-duration",
        str(s.lease_duration),
        "--renew-deadline",
        str(s.renew_deadline),
        "--retry-period",
        str(s.retry_period),
    )
    replicas = {
        identity: procs.spawn_operator(
            run.fleet,
            run.dir / f"op-{identity}",
            run.plane.kubeconfig,
            [NAMESPACE],
            resync_interval=s.resync,
            extra=(*election, "--identity", identity),
            name=f"operator-{identity}",
        )
        for identity in ("bench-a", "bench-b")
    }
    try:
        for replica in replicas.values():
            await replica.wait_healthy()
        names = [f"fo-{i}" for i in range(RESOURCES)]
        await run.create((NAMESPACE, mdep(name, sim.sim.url, name)) for name in names)

        async def held() -> dict[str, object] | None:
            lease = await run.kube.get_lease(NAMESPACE, LEASE)
            return lease if lease and (lease.get("spec") or {}).get("holderIdentity") else None

        try:
            await wait_for_async(held, within=s.lease_duration + 3 * s.retry_period, what="a held Lease", interval=0.2)
        except TimeoutError:
            fig.measured = False
            others = [x["metadata"]["name"] for x in await run.kube.list_leases(NAMESPACE)]
            fig.reason = (
                f"leader election not wired (no Lease {NAMESPACE}/{LEASE} held within "
                f"{s.lease_duration + 3 * s.retry_period:.0f} s of start; Leases there: {others or 'none'})"
            )
            return [fig]
        _, ready = await run.wait_ready([NAMESPACE], RESOURCES, within=60)
        if ready < RESOURCES:
            raise RuntimeError(f"only {ready}/{RESOURCES} Ready with two replicas")
        await asyncio.sleep(1)
        lease = await run.kube.get_lease(NAMESPACE, LEASE)
        assert lease is not None
        leader = str(lease["spec"]["holderIdentity"])
        if leader not in replicas:
            raise RuntimeError(f"the Lease is held by {leader!r}, not by one of {sorted(replicas)}")
        renewed = _parse_time(str(lease["spec"].get("renewTime") or lease["spec"]["acquireTime"]))
        duration = float(lease["spec"].get("leaseDurationSeconds") or s.lease_duration)
        await sim.clear_requests()
        run.fleet.kill(replicas[leader].proc)
        killed = time.time()
        await run.kube.patch_scale(NAMESPACE, names[0], 3)
        within = killed + 3 * (s.lease_duration + s.retry_period) - time.time()
        reached = await sim.first_update(names[0], 3, within=within)
        floor = max(0.0, renewed + duration - killed) + run.results.get("latency_floor_s", 0.0)
        target = s.lease_duration + s.retry_period
        fig.rows = [
            Row(
                "SIGKILL of the leader -> change reaches ES",
                (reached or time.time()) - killed,
                "s",
                f"<= lease duration + retry period ({target:.0f} s)",
                floor,
                "floor",
                "the dead leader's Lease running out + the reaction floor",
                limit=target,
                lower_bound=reached is None,
            )
        ]
        fig.notes.append(
            f"lease {s.lease_duration:.0f} s, renew deadline {s.renew_deadline:.0f} s, retry {s.retry_period:.0f} s; "
            f"leader was {leader}"
        )
        return [fig]
    finally:
        for replica in replicas.values():
            if replica.proc.alive():
                run.fleet.stop(replica.proc)
        await sim.aclose()
        run.fleet.stop(sim.sim.proc)
        fig.seconds = time.monotonic() - started
