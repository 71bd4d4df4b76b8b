"""Awkward moments: deleting while Elasticsearch is down, deleting a whole namespace, a spec flip-flopping."""

from __future__ import annotations

import time
from typing import Any

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube
from tests.faults.conftest import RESYNC, Env, condition, deployment, mdep, patch_spec, writes
from tests.support.simulator import DEMO_MODEL

FINALIZER = "esml.io/stop-deployment"


def gone(kube: Kube, name: str) -> bool:
    return kube.get("modeldeployment", name) is None


def stopped_only(sent: list[dict[str, Any]], deployment_id: str) -> int:
    """Every write was a successful ``_stop`` of ``deployment_id``; how many (a repeat is idempotent: a pass that
    started with the body from before the finalizer was released may stop the stopped deployment again)."""
    wanted = f"/_ml/trained_models/{deployment_id}/deployment/_stop"
    assert sent and all(r["path"] == wanted and r["status"] == 200 for r in sent), sent
    return len(sent)


def blocked(kube: Kube, name: str) -> dict[str, Any] | None:
    found = condition(kube, name, "Ready", "False")
    return found if found and found["reason"] == "DeletionBlocked" else None


@pytest.mark.faults_smoke
def test_deletion_while_elasticsearch_is_down(env: Env) -> None:
    sim = env.simulator()
    proxy = env.proxy(sim)
    env.secrets(sim)
    env.operator()
    policies = {"retain": "Retain", "annotated": "Stop", "paused": "Stop", "waits": "Stop"}
    for name, policy in policies.items():
        env.kube.apply(mdep(name, proxy.url, deploymentId=f"dep-{name}", deletionPolicy=policy))
    for name in policies:
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]
    for name in ("annotated", "paused", "waits"):
        wait_for(
            lambda n=name: env.kube.mdep(n)["metadata"].get("finalizers") == [FINALIZER],  # type: ignore[misc]
            what=f"{name} has the finalizer",
        )

    proxy.set_mode("reset")
    down = time.time()
    for name in policies:
        env.kube.kubectl("delete", "mdep", name, "--wait=false")
    # Retain never waits on Elasticsearch: there is no finalizer to wait for.
    wait_for(lambda: gone(env.kube, "retain"), timeout=5, what="the Retain resource gone at once")
    # Stop keeps retrying and says so on the resource, with the ways out.
    for name in ("annotated", "paused", "waits"):
        said = wait_for(lambda n=name: blocked(env.kube, n), timeout=RESYNC + 15, what=f"{name} DeletionBlocked")  # type: ignore[misc]
        assert "esml.io/skip-stop=true" in said["message"] and "spec.paused: true" in said["message"], said
    assert not gone(env.kube, "waits")
    # The escape hatches let the finalizer go without calling Elasticsearch.
    env.kube.kubectl("annotate", "mdep", "annotated", "esml.io/skip-stop=true")
    patch_spec(env.kube, "paused", paused=True)
    for name in ("annotated", "paused"):
        wait_for(lambda n=name: gone(env.kube, n), timeout=RESYNC + 10, what=f"{name} released")  # type: ignore[misc]
    time.sleep(max(0.0, down + 15 - time.time()))  # 15 s of retrying against a cluster that stays down
    retries = len(proxy.connects(since=down))
    assert not gone(env.kube, "waits")
    assert retries <= (time.time() - down) / RESYNC * 2 + 4, f"{retries} connection attempts: a hot loop"

    proxy.set_mode("pass")  # Elasticsearch is back: the waiting deletion completes
    wait_for(lambda: gone(env.kube, "waits"), timeout=60, what="the waiting deletion completed")
    stops = stopped_only(writes(sim, since=down), "dep-waits")
    for kept in ("retain", "annotated", "paused"):
        assert deployment(sim, f"dep-{kept}") is not None, f"dep-{kept} was stopped"
    assert deployment(sim, "dep-waits") is None
    env.record(
        scenario="deletion while Elasticsearch is down",
        faults=1,
        resources=4,
        converged=4,
        repeats=stops - 1,
        outages=[{"name": "down during deletion", "seconds": time.time() - down, "requests": 0, "connects": retries}],
    )


def test_a_namespace_deleted_with_resources_in_it(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    # The Lease lives elsewhere (as in an install, esml-system): the namespace controller would delete it here.
    op = env.operator("--lease-namespace", "default")
    env.kube.apply(mdep("stopper", sim.local_url, deploymentId="dep-stopper", deletionPolicy="Stop"))
    env.kube.apply(mdep("keeper", sim.local_url, deploymentId="dep-keeper"))
    for name in ("stopper", "keeper"):
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]
    wait_for(lambda: env.kube.mdep("stopper")["metadata"].get("finalizers") == [FINALIZER], what="the finalizer")
    manager = env.plane.start_controller_manager()  # the namespace controller empties and removes namespaces
    try:
        start = time.time()
        env.plane.kubectl("delete", "namespace", env.namespace, "--wait=false")
        wait_for(
            lambda: env.plane.kubectl("get", "namespace", env.namespace, check=False).returncode != 0,
            timeout=90,
            what="the namespace gone",
        )
        took = time.time() - start
    finally:
        manager.stop()
    assert deployment(sim, "dep-stopper") is None  # Stop: stopped before the namespace went
    assert deployment(sim, "dep-keeper") is not None  # Retain: left running
    stops = stopped_only(writes(sim, since=start), "dep-stopper")
    assert op.process.alive(), op.process.log_tail()
    print(f"namespace deleted in {took:.1f}s")
    env.record(
        scenario="namespace deleted with resources",
        faults=1,
        resources=2,
        converged=2,
        namespace_deletion=took,
        repeats=stops - 1,
    )


def test_a_spec_flip_flopping_100_times(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    env.operator()
    env.kube.apply(mdep("ner", sim.local_url, allocations=1))
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), what="Ready")
    start = time.time()
    for n in range(100):
        patch_spec(env.kube, "ner", numberOfAllocations=2 + n % 2)
    flipped = time.time() - start
    wait_for(lambda: converged(env.kube.mdep("ner"), 3), timeout=30, what="the final value, 3")
    assert deployment(sim)["number_of_allocations"] == 3  # type: ignore[index]
    sent = writes(sim, since=start)
    values = [r["body"]["number_of_allocations"] for r in sent]
    assert all(r["path"] == f"/_ml/trained_models/{DEMO_MODEL}/deployment/_update" for r in sent), sent
    assert all(a != b for a, b in zip([1, *values], values, strict=False)), f"a no-op _update: {values}"
    # --action-burst 4 at once, then --action-rate 3 per second: later changes coalesce.
    bound = 4 + 3 * (time.time() - start) + 1
    assert len(sent) <= bound, f"{len(sent)} _update calls for 100 changes in {flipped:.0f}s (bound {bound:.0f})"
    assert values[-1] == 3
    print(f"100 changes in {flipped:.1f}s: {len(sent)} _update calls")
    env.record(
        scenario="spec flip-flopping 100 times",
        faults=1,
        resources=1,
        converged=1,
        flip_flop={"changes": 100, "updates": len(sent), "seconds": flipped},
    )
