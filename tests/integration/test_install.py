"""The install (``kubectl apply -k manifests/``) against the real kube-apiserver.

* ``kubectl kustomize manifests/`` matches tests/golden/install.yaml, so every
  change to the install is a visible diff (``ESML_UPDATE_GOLDEN=1`` rewrites it).
* Every kustomize entry point passes a server-side dry run.
* After a real apply, impersonating the operator's ServiceAccount shows that
  it may do exactly what it needs: one line per permission, and a list of
  things it must not do.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.polling import wait_for
from harness.runner import REPO, ControlPlane

MANIFESTS = REPO / "manifests"
CRD_FILE = REPO / "crds" / "esml.io_modeldeployments.yaml"
GOLDEN = REPO / "tests" / "golden" / "install.yaml"
OPERATOR_NAMESPACE = "esml-system"
OPERATOR_SA = f"system:serviceaccount:{OPERATOR_NAMESPACE}:esml-operator"
LEASE = "esml-operator"

pytestmark = pytest.mark.cluster

INSTALL = [
    ("ClusterRole", "esml-operator"),
    ("ClusterRoleBinding", "esml-operator"),
    ("CustomResourceDefinition", "modeldeployments.esml.io"),
    ("Deployment", "esml-operator"),
    ("Namespace", OPERATOR_NAMESPACE),
    ("PodDisruptionBudget", "esml-operator"),
    ("Role", "esml-operator-leader-election"),
    ("RoleBinding", "esml-operator-leader-election"),
    ("ServiceAccount", "esml-operator"),
]


def kustomize(cp: ControlPlane, path: Path) -> str:
    return cp.kubectl("kustomize", str(path)).stdout


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def ensure_namespace(cp: ControlPlane, name: str) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    cp.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(body))


# -- what the install is ---------------------------------------------------------------------


def test_install_matches_the_golden_file(control_plane: ControlPlane) -> None:
    built = kustomize(control_plane, MANIFESTS)
    if os.environ.get("ESML_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(built)
    assert GOLDEN.exists(), "create it with ESML_UPDATE_GOLDEN=1"
    assert built == GOLDEN.read_text(), (
        "kubectl kustomize manifests/ differs from tests/golden/install.yaml; review the change, then accept it "
        "with ESML_UPDATE_GOLDEN=1 .venv/bin/pytest tests/integration/test_install.py -k golden"
    )


def test_install_has_everything_and_the_base_has_no_crd(control_plane: ControlPlane) -> None:
    docs = documents(kustomize(control_plane, MANIFESTS))
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == INSTALL
    crd = next(d for d in docs if d["kind"] == "CustomResourceDefinition")
    assert crd["spec"] == documents(CRD_FILE.read_text())[0]["spec"]
    namespaced = [
        d for d in docs if d["kind"] not in {"Namespace", "CustomResourceDefinition"} and "Cluster" not in d["kind"]
    ]
    assert {d["metadata"]["namespace"] for d in namespaced} == {OPERATOR_NAMESPACE}

    # `kubectl delete -k manifests/base` removes the operator and leaves the API (and the resources) alone.
    base = documents(kustomize(control_plane, MANIFESTS / "base"))
    assert sorted((d["kind"], d["metadata"]["name"]) for d in base) == [
        item for item in INSTALL if item[0] != "CustomResourceDefinition"
    ]


# -- every entry point, server-side dry run ----------------------------------------------------


def argocd_overlay(tmp_path: Path) -> Path:
    """The shape of an Argo CD install with our component added (argocd-cm stands for the real install)."""
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd", "labels": {"app.kubernetes.io/part-of": "argocd"}},
        "data": {"url": "https://argocd.example.com"},
    }
    (tmp_path / "argocd-cm.yaml").write_text(yaml.safe_dump(cm))
    component = os.path.relpath(MANIFESTS / "argocd", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump({"resources": ["argocd-cm.yaml"], "components": [component]})
    )
    return tmp_path


ENTRY_POINTS = ["manifests", "manifests/base", "crds", "manifests/examples", "argocd-component"]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_entry_point_passes_a_server_side_dry_run(
    control_plane: ControlPlane, namespace: str, tmp_path: Path, entry: str
) -> None:
    path = argocd_overlay(tmp_path) if entry == "argocd-component" else REPO / entry
    docs = documents(kustomize(control_plane, path))
    assert docs
    # Namespaced objects need their namespace to exist, even in a dry run.
    ensure_namespace(control_plane, OPERATOR_NAMESPACE)
    ensure_namespace(control_plane, "argocd")
    target = ["-n", namespace] if entry == "manifests/examples" else []
    proc = control_plane.kubectl("apply", "--server-side", "--dry-run=server", "-k", str(path), *target, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(docs), proc.stdout
    assert all(line.endswith("serverside-applied (server dry run)") for line in lines), proc.stdout
    assert "PodSecurity" not in proc.stderr, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr

    if entry == "argocd-component":
        data = docs[0]["data"]
        lua = (MANIFESTS / "argocd" / "health.lua").read_text()
        assert data == {
            "url": "https://argocd.example.com",
            "resource.customizations.health.esml.io_ModelDeployment": lua,
        }


def test_operator_pod_meets_the_restricted_pod_security_standard(control_plane: ControlPlane) -> None:
    control_plane.kubectl("apply", "--server-side", "-f", str(MANIFESTS / "base" / "namespace.yaml"))
    docs = documents(kustomize(control_plane, MANIFESTS))
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    proc = control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(deployment))
    assert "PodSecurity" not in proc.stderr, proc.stderr

    # Control: the namespace's Pod Security "warn" label does flag a weaker pod.
    weak = copy.deepcopy(deployment)
    weak["metadata"]["name"] = "esml-operator-weak"
    del weak["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    proc = control_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(weak))
    assert 'would violate PodSecurity "restricted:latest"' in proc.stderr, proc.stderr


# -- least privilege, proved by impersonation ----------------------------------------------------

NS = "<ns>"  # any namespace holding ModelDeployments (the test's own)
OWN = OPERATOR_NAMESPACE
ALL = "*"  # cluster-wide (--all-namespaces)

# (verb, resource[/name], subresource, namespace); one line per permission the operator needs.
ALLOWED = [
    ("list", "modeldeployments.esml.io", "", ALL),  # kopf lists every resource at start-up
    ("watch", "modeldeployments.esml.io", "", ALL),  # kopf's watch stream
    ("patch", "modeldeployments.esml.io", "", NS),  # the finalizer esml.io/stop-deployment
    ("patch", "modeldeployments.esml.io", "status", NS),  # observations and conditions
    ("get", "secrets", "", NS),  # credentialsSecretRef / caSecretRef / ECK secrets, by name
    ("get", "secrets", "", OWN),  # ... in any namespace (ECK references may cross namespaces when allowed)
    ("get", "services", "", NS),  # the ECK HTTP Service's port
    ("create", "events", "", NS),  # Events about the resources
    ("list", "customresourcedefinitions.apiextensions.k8s.io", "", ALL),  # kopf's resource scan
    ("watch", "customresourcedefinitions.apiextensions.k8s.io", "", ALL),
    ("list", "horizontalpodautoscalers.autoscaling", "", NS),  # AutoscalerConflict: the HPAs targeting a resource
    ("get", f"leases.coordination.k8s.io/{LEASE}", "", OWN),  # leader election, own namespace only
    ("update", f"leases.coordination.k8s.io/{LEASE}", "", OWN),
    ("create", "leases.coordination.k8s.io", "", OWN),
]

DENIED = [
    # Secrets: never written anywhere, never listed or watched
    *[(verb, "secrets", "", scope) for verb in ("create", "update", "patch", "delete") for scope in (NS, OWN, ALL)],
    ("deletecollection", "secrets", "", NS),
    ("list", "secrets", "", NS),
    ("list", "secrets", "", OWN),
    ("list", "secrets", "", ALL),
    ("watch", "secrets", "", NS),
    ("watch", "secrets", "", ALL),
    # ModelDeployments: the user's; the operator never creates, deletes or rewrites them
    ("create", "modeldeployments.esml.io", "", NS),
    ("delete", "modeldeployments.esml.io", "", NS),
    ("deletecollection", "modeldeployments.esml.io", "", NS),
    ("update", "modeldeployments.esml.io", "", NS),
    # Not needed, so not granted
    ("get", "modeldeployments.esml.io", "", NS),
    ("update", "modeldeployments.esml.io", "status", NS),
    ("update", "modeldeployments.esml.io", "finalizers", NS),
    ("patch", "events", "", NS),
    ("delete", "events", "", NS),
    ("create", "events.events.k8s.io", "", NS),
    ("list", "namespaces", "", ALL),
    *[(verb, "horizontalpodautoscalers.autoscaling", "", NS) for verb in ("create", "update", "patch", "delete")],
    ("watch", "namespaces", "", ALL),
    # Leases: only its own, only in its own namespace, never deleted or listed
    *[(verb, "leases.coordination.k8s.io", "", NS) for verb in ("get", "create", "update", "patch", "delete")],
    *[(verb, f"leases.coordination.k8s.io/{LEASE}", "", "kube-system") for verb in ("get", "update")],
    ("create", "leases.coordination.k8s.io", "", "kube-system"),
    ("get", "leases.coordination.k8s.io/some-other-lease", "", OWN),
    ("update", "leases.coordination.k8s.io/some-other-lease", "", OWN),
    ("delete", f"leases.coordination.k8s.io/{LEASE}", "", OWN),
    ("patch", f"leases.coordination.k8s.io/{LEASE}", "", OWN),
    ("list", "leases.coordination.k8s.io", "", OWN),
    ("watch", "leases.coordination.k8s.io", "", OWN),
    # RBAC: no escalation, no binding, no new roles
    ("escalate", "clusterroles.rbac.authorization.k8s.io", "", ALL),
    ("bind", "clusterroles.rbac.authorization.k8s.io", "", ALL),
    ("escalate", "roles.rbac.authorization.k8s.io", "", OWN),
    ("bind", "roles.rbac.authorization.k8s.io", "", OWN),
    ("create", "clusterroles.rbac.authorization.k8s.io", "", ALL),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", "", ALL),
    ("create", "roles.rbac.authorization.k8s.io", "", OWN),
    ("create", "rolebindings.rbac.authorization.k8s.io", "", OWN),
    ("update", "roles.rbac.authorization.k8s.io/esml-operator-leader-election", "", OWN),
    ("impersonate", "serviceaccounts", "", NS),
    ("impersonate", "users", "", ALL),
    ("create", "serviceaccounts", "token", OWN),
    # Workloads and everything else
    ("create", "pods", "", NS),
    ("create", "pods", "exec", NS),
    ("list", "pods", "", NS),
    ("get", "configmaps", "", NS),
    ("list", "services", "", NS),
    ("update", "deployments.apps", "", OWN),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", "", ALL),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", "", ALL),
    ("create", "namespaces", "", ALL),
    ("get", "namespaces", "", ALL),
    ("delete", "namespaces", "", ALL),
]


def can_i(cp: ControlPlane, verb: str, resource: str, sub: str, scope: str, namespace: str) -> bool:
    args = ["auth", "can-i", verb, resource, f"--as={OPERATOR_SA}"]
    if scope == ALL:
        args.append("--all-namespaces")
    else:
        args += ["-n", namespace if scope == NS else scope]
    if sub:
        args.append(f"--subresource={sub}")
    proc = cp.kubectl(*args, check=False)
    answer = proc.stdout.strip()
    assert answer in {"yes", "no"}, f"{args}: {proc.stdout} {proc.stderr}"
    return answer == "yes"


def test_installed_operator_may_do_exactly_what_it_needs(control_plane: ControlPlane, namespace: str) -> None:
    """Apply the real install (as a user would), then ask the API server as the operator's ServiceAccount."""
    proc = control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(MANIFESTS))
    assert len(proc.stdout.splitlines()) == len(INSTALL), proc.stdout
    deployment = json.loads(control_plane.kubectl("get", "-n", OWN, "deployment/esml-operator", "-o", "json").stdout)
    assert deployment["spec"]["replicas"] == 2

    assert len({line[:4] for line in ALLOWED}) == len(ALLOWED)
    assert len({line[:4] for line in DENIED}) == len(DENIED)
    expected = [(line, True) for line in ALLOWED] + [(line, False) for line in DENIED]
    wrong: list[str] = []

    def settled() -> bool:
        # RBAC reaches the authorizer through an informer: poll until it agrees (or time out).
        wrong[:] = [
            f"{verb} {res}{'/' + sub if sub else ''} in {scope}: expected {'allowed' if allowed else 'denied'}"
            for (verb, res, sub, scope), allowed in expected
            if can_i(control_plane, verb, res, sub, scope, namespace) != allowed
        ]
        return not wrong

    try:
        wait_for(settled, timeout=30, what="the operator's RBAC to take effect")
    except AssertionError:
        pytest.fail("RBAC mismatches:\n" + "\n".join(wrong))


def test_deleting_the_base_removes_the_operator_but_not_the_api(control_plane: ControlPlane) -> None:
    ensure_namespace(control_plane, OPERATOR_NAMESPACE)
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(MANIFESTS))
    proc = control_plane.kubectl("delete", "--dry-run=server", "-k", str(MANIFESTS / "base"))
    deleted = proc.stdout.splitlines()
    assert len(deleted) == len(INSTALL) - 1, proc.stdout
    assert not any("customresourcedefinition" in line for line in deleted), proc.stdout
    proc = control_plane.kubectl("delete", "--dry-run=server", "-k", str(MANIFESTS))
    assert any(
        line.startswith('customresourcedefinition.apiextensions.k8s.io "modeldeployments.esml.io"')
        for line in proc.stdout.splitlines()
    ), proc.stdout
