"""Upgrading an install from the previous release to this tree, as a rolling update of the Deployment does.

The previous release is the commit that cut its section into CHANGELOG.md, found
in git history (CI clones with full history; tags may not be pushed). Its
``manifests/`` are installed and its operator code runs, two replicas as the
Deployment has, on exactly the permissions those manifests grant. Then this
tree's ``manifests/`` are applied over it (the CRD, RBAC and Deployment change
in place), and the replicas are replaced one at a time as ``RollingUpdate``
(maxSurge 1, maxUnavailable 0) replaces pods: a new process starts, an old one
gets SIGTERM, the next new one starts, the old leader gets SIGTERM.

Held: Elasticsearch receives no ``_start``, ``_update`` or ``_stop`` because of
the upgrade; no version of a resource seen by a watch goes backwards (generation,
observedGeneration, allocations, the status of Ready, Reconciling, Stalled and
ElasticsearchReachable, Ready's transition time) and the finalizers stay; the
Lease passes from the old leader straight to a new process, released (well within the lease
duration) rather than expired; and the new leader then acts on a change.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from harness.polling import wait_for
from harness.runner import REPO, ControlPlane
from harness.status import converged
from scripts.release import changelog
from tests.e2e.conftest import Kube, model_deployment
from tests.e2e.test_install_rbac import bind_user_like_the_install
from tests.faults.conftest import from_operator, writes
from tests.faults.watch import StatusWatch, Version
from tests.support.operator import OperatorProcess
from tests.support.polls import stats_polls
from tests.support.simulator import SimulatorProcess

LEASE_NAMESPACE, LEASE = "esml-system", "esml-operator"
LEASE_DURATION = 15.0  # the operator's default, as the Deployment runs it
# name -> (spec, allocations after set-up); "scaled" is scaled through /scale, so its generation is 2.
RESOURCES: dict[str, tuple[dict[str, Any], int]] = {
    "plain": ({"deploymentId": "plain-dep"}, 1),
    "scaled": ({"deploymentId": "scaled-dep"}, 2),
    "stop": ({"deploymentId": "stop-dep", "deletionPolicy": "Stop"}, 1),
}


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr.strip()} (the upgrade test needs a full clone)"
    return done.stdout.strip()


def previous_release() -> tuple[str, str]:
    """(version, commit) of the newest release cut before HEAD: the commit that added its CHANGELOG heading."""
    head = git("rev-parse", "HEAD")
    for version in changelog.released((REPO / "CHANGELOG.md").read_text()):
        commits = git("log", "--format=%H", "-S", f"## [{version}] - ", "--", "CHANGELOG.md").split()
        assert commits, f"no commit in history adds CHANGELOG.md's section {version} (a shallow clone?)"
        if commits[-1] != head:
            return version, commits[-1]
    raise AssertionError("CHANGELOG.md names no release before HEAD")


def extract(commit: str, dest: Path) -> Path:
    """The operator code, manifests and CRDs of ``commit`` under ``dest`` (git archive: no work tree of the repo)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "operator", "manifests", "crds"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def imported_from(code: Path) -> Path:
    """Where ``esml_operator`` comes from with ``PYTHONPATH=code`` (the old process must not run this tree)."""
    out = subprocess.run(
        [sys.executable, "-c", "import esml_operator; print(esml_operator.__file__)"],
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return Path(out.strip())


def lease(cp: ControlPlane) -> dict[str, Any]:
    out = cp.kubectl("-n", LEASE_NAMESPACE, "get", "lease", LEASE, "-o", "json", check=False)
    return dict(json.loads(out.stdout)["spec"]) if out.returncode == 0 else {}


def stop_gracefully(op: OperatorProcess, grace: float = 30.0) -> int:
    """SIGTERM as the kubelet sends it; the exit status (a process still running after ``grace`` fails the test)."""
    op.process.popen.terminate()
    try:
        return op.process.popen.wait(timeout=grace)
    finally:
        op.stop()


def passes(op: OperatorProcess) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in op.metrics().splitlines()
        if line.startswith("esml_reconcile_passes_total{")
    )


def regressions(versions: list[Version], before: dict[str, dict[str, Any]]) -> list[str]:
    """Every watched version that differs from its resource's settled state in what an upgrade must keep."""
    found = []
    for v in versions:
        old = before[v.name]
        old_conditions = {c["type"]: c for c in old["status"]["conditions"]}
        old_ready = old_conditions["Ready"]
        ready = v.condition("Ready") or {}
        kept = {
            **{
                f"{type_} status": ((v.condition(type_) or {}).get("status"), old_conditions[type_]["status"])
                for type_ in ("Reconciling", "Stalled", "ElasticsearchReachable")
            },
            "generation": (v.generation, old["metadata"]["generation"]),
            "observedGeneration": (v.status.get("observedGeneration"), old["status"]["observedGeneration"]),
            "allocations": (v.status.get("allocations"), old["status"]["allocations"]),
            "Ready": (ready.get("status"), "True"),
            "Ready since": (ready.get("lastTransitionTime"), old_ready["lastTransitionTime"]),
            "deleting": (v.deleting, False),
        }
        found += [
            f"{v.name} {v.type} at {v.seen:.1f}: {what} {now!r}, was {was!r}"
            for what, (now, was) in kept.items()
            if now != was
        ]
    return found


@pytest.mark.timeout(480)
def test_upgrade_from_the_previous_release_writes_nothing_to_elasticsearch_and_hands_over_the_lease(
    control_plane: ControlPlane,
    kube: Kube,
    namespace: str,
    simulator_factory: Any,
    tmp_path: Path,
) -> None:
    version, commit = previous_release()
    old_code = extract(commit, tmp_path / f"release-{version}") / "operator"
    assert imported_from(old_code) == old_code / "esml_operator" / "__init__.py"
    kubeconfig = bind_user_like_the_install(control_plane, old_code.parent / "manifests")

    sim: SimulatorProcess = simulator_factory(nodes=4, extra=("--processors", "8"))
    url = sim.url.replace("127.0.0.1", "localhost")
    kube.secret("es-credentials", {"api_key": sim.create_api_key()})
    kube.secret("es-ca", {"ca.crt": sim.ca_pem})

    started: list[OperatorProcess] = []

    def replica(code: Path | None) -> OperatorProcess:
        """One pod's process: --all-namespaces and the lease timings as the Deployment runs it, the installed RBAC."""
        op = OperatorProcess(
            kubeconfig,
            namespaces=(),
            resync_interval=2.0,
            lease=LEASE,
            extra=("--lease-namespace", LEASE_NAMESPACE),
            env={"PYTHONPATH": str(code)} if code else None,
            workdir=tmp_path / f"replica{len(started)}",
        )
        started.append(op)
        return op

    watch: StatusWatch | None = None
    try:
        # The previous release, installed and running, its resources settled.
        old_leader = replica(old_code)
        assert f"PYTHONPATH={old_code}".encode() in Path(f"/proc/{old_leader.process.pid}/environ").read_bytes()
        # A Lease left by an earlier test on this control plane may have to expire first.
        wait_for(
            lambda: lease(control_plane).get("holderIdentity") == old_leader.identity,
            timeout=LEASE_DURATION + 30,
            what="the old release to hold the Lease",
        )
        old_standby = replica(old_code)
        for name, (spec, _) in RESOURCES.items():
            kube.apply(model_deployment(name, url, **spec))
        kube.kubectl("scale", "mdep", "scaled", "--replicas=2")
        for name, (_, allocations) in RESOURCES.items():
            wait_for(lambda n=name, a=allocations: converged(kube.mdep(n), a), what=f"{name} settled")  # type: ignore[misc]
        wait_for(lambda: kube.mdep("stop")["metadata"].get("finalizers"), what="the Stop policy's finalizer")
        settled_writes = writes(sim)
        before = {name: kube.mdep(name) for name in RESOURCES}
        transitions = int(lease(control_plane).get("leaseTransitions") or 0)
        watch = StatusWatch(control_plane.kubeconfig, namespace)
        upgrade = time.time()

        # The upgrade: this tree's install over the old one, then the rolling replacement of the replicas.
        control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(REPO / "manifests"))
        control_plane.kubectl("wait", "--for=condition=Established", "crd/modeldeployments.esml.io")
        new = [replica(None)]
        assert stop_gracefully(old_standby) == 0, old_standby.log[-3000:]
        new.append(replica(None))
        assert lease(control_plane).get("holderIdentity") == old_leader.identity, "a standby took the Lease"
        terminated = time.time()
        assert stop_gracefully(old_leader) == 0, old_leader.log[-3000:]
        exited = time.time()
        holder = wait_for(
            lambda: (
                lease(control_plane).get("holderIdentity") in {op.identity for op in new}
                and lease(control_plane)["holderIdentity"]
            ),
            timeout=LEASE_DURATION + 30,
            interval=0.05,
            what="a new replica to take the Lease",
        )
        handover = time.time() - terminated
        new_leader = next(op for op in new if op.identity == holder)
        print(f"upgrade from {version} ({commit[:12]}): Lease handed over {handover:.2f} s after SIGTERM")
        assert handover < LEASE_DURATION, f"the Lease expired ({handover:.1f} s) instead of being released"
        assert int(lease(control_plane).get("leaseTransitions") or 0) == transitions + 1

        # The new leader has been through every resource and polled the cluster twice since the old one exited.
        def polls_since_exit() -> int:
            return len([r for r in stats_polls(sim) if r["wall_time"] > exited and from_operator(r)])

        wait_for(lambda: polls_since_exit() >= 2, what="two polls by the new leader")
        wait_for(lambda: passes(new_leader) >= len(RESOURCES), what="a pass per resource by the new leader")
        quiet = time.time()

        assert writes(sim) == settled_writes, [(w["method"], w["path"]) for w in writes(sim, since=upgrade)]
        assert regressions(watch.history(since=upgrade), before) == []
        for name, old in before.items():
            now = kube.mdep(name)
            assert regressions([watch.latest(name) or _version(now)], before) == []
            assert now["metadata"].get("finalizers") == old["metadata"].get("finalizers"), name

        # And the new leader acts: a change reaches Elasticsearch, once.
        kube.kubectl("scale", "mdep", "plain", "--replicas=3")
        wait_for(lambda: converged(kube.mdep("plain"), 3), what="plain scaled by the new leader")
        assert [w["path"] for w in writes(sim, since=quiet)] == ["/_ml/trained_models/plain-dep/deployment/_update"]
    finally:
        if watch is not None:
            watch.stop()
        for op in started:
            op.stop()


def _version(obj: dict[str, Any]) -> Version:
    meta = obj["metadata"]
    return Version(
        time.time(),
        "GET",
        meta["name"],
        int(meta["generation"]),
        dict(obj.get("status") or {}),
        dict(obj["spec"]),
        bool(meta.get("deletionTimestamp")),
        str(meta["uid"]),
    )
