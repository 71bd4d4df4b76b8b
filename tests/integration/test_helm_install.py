"""The Helm chart against the real kube-apiserver: a server-side dry run of its renders, ``helm install``,
``helm upgrade`` (changed values take effect) and ``helm uninstall``, and the namespace-scoped mode's RBAC
proved by impersonation, as tests/integration/test_install.py proves the cluster-wide install's.

The test API server has no kubelet: pods never run, so these tests check the objects, not the pods.
Each test installs under a release name of its own (every cluster-scoped object carries it), so the
kustomize install that other tests apply to the same API server is never touched.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.polling import wait_for
from harness.runner import ControlPlane
from tests.support.helm import CHART, Helm, documents

pytestmark = pytest.mark.cluster


@pytest.fixture
def helm(control_plane: ControlPlane, tmp_path: Path) -> Helm:
    return Helm(tmp_path / "helm-home", kubeconfig=control_plane.kubeconfig)


@pytest.fixture
def namespaces(control_plane: ControlPlane) -> Iterator[list[str]]:
    """Up to three fresh namespaces (the release's and watched ones), labelled to enforce Pod Security "restricted"."""
    names = [f"h-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    for name in names:
        body = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
        }
        control_plane.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(body))
    yield names
    for name in names:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def release(helm: Helm, namespaces: list[str]) -> Iterator[str]:
    """A release name of this test's own; uninstalled at the end if the test left it installed."""
    name = f"esml-operator-{namespaces[0][2:]}"
    yield name
    helm.run("uninstall", name, "--namespace", namespaces[0], "--ignore-not-found", check=False)


def get(cp: ControlPlane, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    args = ["get", kind, name, "-o", "json", "--ignore-not-found"]
    out = cp.kubectl(*args, *(["-n", namespace] if namespace else [])).stdout
    return json.loads(out) if out.strip() else None


def operator_container(cp: ControlPlane, release: str, namespace: str) -> dict[str, Any]:
    deployment = get(cp, "deployment", release, namespace)
    assert deployment is not None
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


# -- server-side dry run ----------------------------------------------------------------------------------

DRY_RUNS = {
    "default": [],
    "namespaced": ["--set", "watchNamespaces={W1,W2}"],
    "external-metrics": ["--set", "externalMetrics.enabled=true", "--set", "externalMetrics.caBundle=Q0E="],
}


@pytest.mark.parametrize("mode", list(DRY_RUNS))
def test_render_passes_a_server_side_dry_run(
    control_plane: ControlPlane, helm: Helm, namespaces: list[str], mode: str
) -> None:
    values = [v.replace("W1", namespaces[1]).replace("W2", namespaces[2]) for v in DRY_RUNS[mode]]
    release = f"dry-{namespaces[0][2:]}"
    rendered = helm.template(*values, release=release, namespace=namespaces[0]).stdout
    docs = documents(rendered)
    assert docs
    proc = control_plane.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", input=rendered, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(docs), proc.stdout
    assert all(line.endswith("serverside-applied (server dry run)") for line in lines), proc.stdout
    assert "PodSecurity" not in proc.stderr and "Warning" not in proc.stderr, proc.stderr


# -- install, upgrade, uninstall -------------------------------------------------------------------------


def test_install_upgrade_and_uninstall(
    control_plane: ControlPlane, helm: Helm, namespaces: list[str], release: str
) -> None:
    cp, ns, watched = control_plane, namespaces[0], namespaces[1]
    proc = helm.run("install", release, str(CHART), "--namespace", ns)
    assert f"kubectl -n {ns} rollout status deployment/{release}" in proc.stdout, "NOTES.txt says how to check"
    status = json.loads(helm.run("status", release, "--namespace", ns, "-o", "json").stdout)
    assert (status["info"]["status"], status["version"]) == ("deployed", 1)

    deployment = get(cp, "deployment", release, ns)
    assert deployment is not None and deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert operator_container(cp, release, ns)["args"] == ["run", "--all-namespaces"]
    for kind, name in [
        ("serviceaccount", release),
        ("role", f"{release}-leader-election"),
        ("rolebinding", f"{release}-leader-election"),
        ("poddisruptionbudget", release),
    ]:
        assert get(cp, kind, name, ns) is not None, f"{kind}/{name}"
    cluster_role = get(cp, "clusterrole", release)
    assert cluster_role is not None and len(cluster_role["rules"]) == 7
    assert get(cp, "clusterrolebinding", release) is not None

    # Upgrade: changed values take effect.
    helm.run(
        "upgrade",
        release,
        str(CHART),
        "--namespace",
        ns,
        "--set",
        "replicas=3",
        "--set",
        "settings.logFormat=json",
        "--set",
        f"watchNamespaces={{{watched}}}",
    )
    status = json.loads(helm.run("status", release, "--namespace", ns, "-o", "json").stdout)
    assert (status["info"]["status"], status["version"]) == ("deployed", 2)
    deployment = get(cp, "deployment", release, ns)
    assert deployment is not None and deployment["spec"]["replicas"] == 3
    container = operator_container(cp, release, ns)
    assert container["args"] == ["run", "--namespace", watched]
    assert {"name": "ESML_LOG_FORMAT", "value": "json"} in container["env"]
    cluster_role = get(cp, "clusterrole", release)
    assert cluster_role is not None
    assert [r["resources"] for r in cluster_role["rules"]] == [["customresourcedefinitions"], ["namespaces"]]
    role = get(cp, "role", release, watched)
    assert role is not None and len(role["rules"]) == 6
    assert get(cp, "rolebinding", release, watched) is not None

    # Uninstall: everything the release made is gone; the CRD (and so every ModelDeployment) stays.
    helm.run("uninstall", release, "--namespace", ns, "--wait", "--timeout", "120s")
    gone = [
        ("deployment", release, ns),
        ("serviceaccount", release, ns),
        ("poddisruptionbudget", release, ns),
        ("role", f"{release}-leader-election", ns),
        ("rolebinding", f"{release}-leader-election", ns),
        ("role", release, watched),
        ("rolebinding", release, watched),
        ("clusterrole", release, None),
        ("clusterrolebinding", release, None),
    ]
    left: list[tuple[str, str, str | None]] = []

    def all_gone() -> bool:
        left[:] = [item for item in gone if get(cp, *item) is not None]
        return not left

    wait_for(all_gone, timeout=60, what=f"the release's objects to go (left: {left})")
    assert json.loads(helm.run("list", "--namespace", ns, "-o", "json").stdout) == []
    assert get(cp, "crd", "modeldeployments.esml.io") is not None


def test_failed_install_of_bad_values_creates_nothing(
    control_plane: ControlPlane, helm: Helm, namespaces: list[str], release: str
) -> None:
    proc = helm.run(
        "install",
        release,
        str(CHART),
        "--namespace",
        namespaces[0],
        "--set",
        "leaderElection.enabled=false",
        check=False,
    )
    assert proc.returncode != 0 and "replicas above 1 need leaderElection.enabled" in proc.stderr, proc.stderr
    assert json.loads(helm.run("list", "--namespace", namespaces[0], "-o", "json").stdout) == []
    assert get(control_plane, "clusterrole", release) is None


# -- namespace-scoped least privilege, proved by impersonation ---------------------------------------------

WATCHED, OTHER, OWN, ALL = "<watched>", "<other>", "<own>", "*"
RESOURCES_ANYWHERE = [
    ("list", "modeldeployments.esml.io", ""),
    ("watch", "modeldeployments.esml.io", ""),
    ("patch", "modeldeployments.esml.io", ""),
    ("patch", "modeldeployments.esml.io", "status"),
    ("get", "secrets", ""),
    ("get", "services", ""),
    ("create", "events", ""),
    ("list", "horizontalpodautoscalers.autoscaling", ""),
]
NAMESPACED_ALLOWED = [
    *[(verb, res, sub, WATCHED) for verb, res, sub in RESOURCES_ANYWHERE],
    ("list", "customresourcedefinitions.apiextensions.k8s.io", "", ALL),  # kopf's resource scan
    ("watch", "customresourcedefinitions.apiextensions.k8s.io", "", ALL),
    ("list", "namespaces", "", ALL),  # kopf's namespace observation when not cluster-wide
    ("watch", "namespaces", "", ALL),
    ("get", "leases.coordination.k8s.io/<lease>", "", OWN),
    ("update", "leases.coordination.k8s.io/<lease>", "", OWN),
    ("create", "leases.coordination.k8s.io", "", OWN),
]
NAMESPACED_DENIED = [
    # Nothing of the watched namespaces' grant anywhere else, nor cluster-wide
    *[(verb, res, sub, scope) for verb, res, sub in RESOURCES_ANYWHERE for scope in (OTHER, OWN, ALL)],
    # and in the watched namespaces only what it needs
    *[(verb, "secrets", "", WATCHED) for verb in ("list", "watch", "create", "update", "patch", "delete")],
    *[(verb, "modeldeployments.esml.io", "", WATCHED) for verb in ("get", "create", "update", "delete")],
    ("update", "modeldeployments.esml.io", "status", WATCHED),
    ("patch", "events", "", WATCHED),
    ("create", "horizontalpodautoscalers.autoscaling", "", WATCHED),
    ("create", "leases.coordination.k8s.io", "", WATCHED),
    ("get", "leases.coordination.k8s.io/<lease>", "", WATCHED),
    ("delete", "leases.coordination.k8s.io/<lease>", "", OWN),
    ("get", "leases.coordination.k8s.io/some-other-lease", "", OWN),
    *[(verb, "namespaces", "", ALL) for verb in ("get", "create", "update", "patch", "delete")],
    ("create", "customresourcedefinitions.apiextensions.k8s.io", "", ALL),
    ("create", "pods", "", WATCHED),
    ("create", "rolebindings.rbac.authorization.k8s.io", "", WATCHED),
    ("bind", "clusterroles.rbac.authorization.k8s.io", "", ALL),
    ("impersonate", "serviceaccounts", "", WATCHED),
]


def can_i(cp: ControlPlane, account: str, verb: str, resource: str, sub: str, namespace: str | None) -> bool:
    args = ["auth", "can-i", verb, resource, f"--as={account}"]
    args += ["--all-namespaces"] if namespace is None else ["-n", namespace]
    args += [f"--subresource={sub}"] if sub else []
    proc = cp.kubectl(*args, check=False)
    answer = proc.stdout.strip()
    assert answer in {"yes", "no"}, f"{args}: {proc.stdout} {proc.stderr}"
    return answer == "yes"


def test_namespace_scoped_operator_may_do_exactly_what_it_needs(
    control_plane: ControlPlane, helm: Helm, namespaces: list[str], release: str
) -> None:
    own, watched, other = namespaces
    helm.run("install", release, str(CHART), "--namespace", own, "--set", f"watchNamespaces={{{watched}}}")
    account = f"system:serviceaccount:{own}:{release}"
    scopes: dict[str, str | None] = {WATCHED: watched, OTHER: other, OWN: own, ALL: None}
    expected = [(line, True) for line in NAMESPACED_ALLOWED] + [(line, False) for line in NAMESPACED_DENIED]
    assert len({line for line, _ in expected}) == len(expected)
    wrong: list[str] = []

    def settled() -> bool:
        wrong[:] = [
            f"{verb} {res}{'/' + sub if sub else ''} in {scope}: expected {'allowed' if allowed else 'denied'}"
            for (verb, res, sub, scope), allowed in expected
            if can_i(control_plane, account, verb, res.replace("<lease>", release), sub, scopes[scope]) != allowed
        ]
        return not wrong

    try:
        wait_for(settled, timeout=30, what="the chart's namespace-scoped RBAC to take effect")
    except AssertionError:
        pytest.fail("RBAC mismatches:\n" + "\n".join(wrong))
