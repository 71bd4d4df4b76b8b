"""Kubernetes-side faults: the API server restarts, the credentials Secret disappears, the CA is rotated."""

from __future__ import annotations

import time
from typing import Any

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import RESYNC, Env, condition, deployment, mdep, patch_spec, writes


def target(request: dict[str, Any]) -> str:
    """The deployment a _start/_update/_stop is about (a _start names the model in its path)."""
    return str(request["query"].get("deployment_id") or request["path"].split("/")[3])


def test_kube_apiserver_restart_the_watch_resumes_and_changes_are_reconciled(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    watch = env.watch()
    op = env.operator()
    for name in ("a", "b"):
        env.kube.apply(mdep(name, sim.local_url, deploymentId=f"dep-{name}"))
    for name in ("a", "b"):
        wait_for(lambda n=name: converged(env.kube.mdep(n), 1), what=f"{name} Ready")  # type: ignore[misc]

    def while_down() -> None:
        # Kibana scales dep-a while the operator cannot even read its resources.
        sim.admin("POST", "deployments/dep-a/_set_allocations", {"number_of_allocations": 3})

    stopped = time.time()
    down_for = env.plane.restart_apiserver(while_down)
    back = time.time()
    # Changes made as soon as the API server is back, before the operator's watch has reconnected.
    patch_spec(env.kube, "b", numberOfAllocations=2)
    env.kube.apply(mdep("c", sim.local_url, deploymentId="dep-c"))
    for name, count in (("a", 1), ("b", 2), ("c", 1)):
        wait_for(lambda n=name, k=count: converged(env.kube.mdep(n), k), timeout=60, what=f"{name} converged")  # type: ignore[misc]
    resumed = time.time() - back
    assert op.process.alive(), op.process.log_tail()
    assert deployment(sim, "dep-a")["number_of_allocations"] == 1  # type: ignore[index]
    sent = sorted((target(r), r["path"].rsplit("/", 1)[1]) for r in writes(sim, since=stopped))
    assert sent == [("dep-a", "_update"), ("dep-b", "_update"), ("dep-c", "_start")], sent
    starts = [r for r in writes(sim) if r["path"].endswith("/_start")]
    assert len(starts) == 3, starts  # a, b and c, each once
    assert watch.reconnects >= 1  # our own watch noticed the restart too
    print(f"API server down for {down_for:.1f}s; everything converged {resumed:.1f}s after it was back")
    env.record(
        scenario="kube-apiserver restart (etcd up)",
        faults=1,
        resources=3,
        converged=3,
        gaps=[resumed],
        apiserver_down=down_for,
    )


def test_credentials_secret_deleted_then_recreated(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    op = env.operator()
    env.kube.apply(mdep("ner", sim.local_url))
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), what="Ready")
    gone = time.time()
    env.kube.kubectl("delete", "secret", "es-credentials")
    stalled = wait_for(
        lambda: condition(env.kube, "ner", "Stalled", "True"),
        timeout=3 * RESYNC + 10,
        what="Stalled once the Secret is gone",
    )
    assert stalled["reason"] == "SecretNotFound" and "es-credentials" in stalled["message"], stalled
    missing_at = time.time()
    wait_for(
        lambda: time.time() - missing_at > 3 * RESYNC,
        timeout=3 * RESYNC + 2,
        interval=0.5,
        what="three resync intervals with the Secret missing",
    )
    during = [r for r in sim.requests() if r["wall_time"] >= missing_at]
    assert len(during) <= 1, f"{len(during)} requests without credentials"  # at most a poll already under way
    env.kube.secret("es-credentials", {"api_key": env.planted.api_key})
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), timeout=3 * RESYNC + 15, what="Ready after the Secret is back")
    assert op.process.alive()
    assert op.process.pid == env.operators[0].process.pid  # the same process: no restart
    assert writes(sim, since=gone) == []  # the deployment kept running; nothing was stopped or restarted
    env.record(scenario="credentials Secret deleted, then recreated", faults=1, resources=1, converged=1)


def test_ca_rotation_new_connections_use_the_new_ca(env: Env) -> None:
    sim = env.simulator()
    proxy = env.proxy(sim, identities=2)  # identity 0: the simulator's CA; identity 1: a new CA
    env.secrets(sim)
    new_ca = proxy.identities[1].cert.parent / "ca.crt"
    env.operator()
    env.kube.apply(mdep("ner", proxy.url))
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), what="Ready with the first CA")

    proxy.use_identity(1)  # the server rotates first: verification must fail, not be skipped
    refused = wait_for(
        lambda: condition(env.kube, "ner", "Stalled", "True"),
        timeout=RESYNC + 15,
        what="Stalled TLSError with the old CA",
    )
    assert refused["reason"] == "TLSError" and "certificate" in refused["message"], refused
    new_ca_key = new_ca.with_name("ca.key").read_bytes()
    env.kube.secret("es-ca", {"ca.crt": new_ca.read_bytes(), "ca.key": new_ca_key})
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), timeout=3 * RESYNC + 15, what="Ready with the new CA")

    proxy.use_identity(0)  # the old CA is no longer trusted: the Secret replaced it
    again = wait_for(
        lambda: condition(env.kube, "ner", "Stalled", "True"),
        timeout=RESYNC + 15,
        what="Stalled TLSError with the old certificate",
    )
    assert again["reason"] == "TLSError", again
    assert writes(sim) == [w for w in writes(sim) if w["path"].endswith("/_start")][:1]  # one _start, nothing else
    env.record(scenario="CA Secret rotated", faults=2, resources=1, converged=1)
