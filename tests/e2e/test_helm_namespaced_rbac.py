"""The Helm chart's namespace-scoped RBAC is enough: the operator, holding only what the chart grants with
``watchNamespaces``, does its job in the namespace it watches.

tests/integration/test_helm_install.py proves by impersonation that the chart's ServiceAccount may do no
more than it needs in that mode; this proves the other half, as tests/e2e/test_install_rbac.py does for
the cluster-wide install. The chart's rendered Roles and ClusterRole are applied as they are, and each of
its bindings is applied with a User subject instead of the ServiceAccount (the test harness authenticates
with client certificates, not ServiceAccount tokens). The operator runs ``--namespace <watched>`` as the
chart's Deployment does, elects itself through the Lease the chart's Role allows (in the release
namespace), and takes a resource through a URL connection, scaling, Events, the finalizer and a
deletion that stops the deployment. Any 403 from Kubernetes would show.
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
from tests.e2e.conftest import Kube, model_deployment, ready
from tests.support.helm import Helm
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

FINALIZER = "esml.io/stop-deployment"
RBAC_KINDS = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


@pytest.fixture
def own_namespace(control_plane: ControlPlane) -> Iterator[str]:
    """The release namespace, where the Lease lives (the operator does not watch it)."""
    name = f"h-{uuid.uuid4().hex[:10]}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def chart_rbac_for_user(helm: Helm, release: str, own: str, watched: str, user: str) -> list[dict[str, Any]]:
    """The chart's RBAC objects for ``watchNamespaces: [watched]``, bound to ``user``."""
    objects = [
        o
        for o in helm.objects("--set", f"watchNamespaces={{{watched}}}", release=release, namespace=own)
        if o["kind"] in RBAC_KINDS
    ]
    assert {(o["kind"], o["metadata"].get("namespace")) for o in objects} == {
        ("ClusterRole", None),
        ("ClusterRoleBinding", None),
        ("Role", own),
        ("RoleBinding", own),
        ("Role", watched),
        ("RoleBinding", watched),
    }
    for o in objects:
        if o["kind"].endswith("Binding"):
            o["subjects"] = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]
    return objects


def test_operator_works_with_exactly_the_charts_namespaced_permissions(
    control_plane: ControlPlane,
    kube: Kube,
    own_namespace: str,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    tmp_path: Path,
) -> None:
    release = f"esml-operator-{uuid.uuid4().hex[:8]}"  # the chart's full name, and its Lease's name
    user = f"{release}-check"
    helm = Helm(tmp_path / "helm-home")
    rbac = chart_rbac_for_user(helm, release, own_namespace, kube.namespace, user)
    control_plane.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in rbac))
    kubeconfig = control_plane.kubeconfig_for(user)
    # Bindings reach the authorizer through an informer: wait until they do.
    wait_for(
        lambda: (
            control_plane.kubectl(
                "auth",
                "can-i",
                "watch",
                "modeldeployments.esml.io",
                "-n",
                kube.namespace,
                kubeconfig=kubeconfig,
                check=False,
            ).stdout.strip()
            == "yes"
        ),
        what="the user's RoleBinding to take effect",
    )
    operator = OperatorProcess(
        kubeconfig,
        namespaces=(kube.namespace,),  # --namespace <watched>, as the chart's Deployment runs it
        resync_interval=2.0,
        lease=release,
        extra=("--lease-namespace", own_namespace),
        workdir=tmp_path / "operator",
    )
    try:
        wait_for(
            lambda: (
                json.loads(
                    control_plane.kubectl(
                        "get", "lease", "-n", own_namespace, release, "-o", "json", check=False
                    ).stdout
                    or "{}"
                )
                .get("spec", {})
                .get("holderIdentity")
                == operator.identity
            ),
            what=f"the operator to hold {own_namespace}/{release}",
        )

        kube.apply(model_deployment("by-url", es_url, allocations=1, deletionPolicy="Stop"))
        wait_for(lambda: ready(kube, "by-url"), what="by-url Ready")
        wait_for(lambda: kube.mdep("by-url")["metadata"].get("finalizers") == [FINALIZER], what="the finalizer")
        kube.kubectl("scale", "mdep/by-url", "--replicas=2")
        wait_for(
            lambda: ready(kube, "by-url") and kube.mdep("by-url")["status"].get("allocations") == 2,
            what="scaled to 2",
        )
        assert "Ready" in [e["reason"] for e in kube.events("by-url")]

        kube.kubectl("delete", "mdep/by-url", "--timeout=30s")
        assert simulator.deployment(DEMO_MODEL) is None
        assert kube.get("modeldeployment", "by-url") is None

        refusals = [
            line for line in operator.log.splitlines() if "is forbidden: User" in line or "APIForbiddenError" in line
        ]
        assert refusals == [], refusals[:5]
    finally:
        operator.stop()
        for o in rbac:
            if "namespace" not in o["metadata"]:
                control_plane.kubectl(
                    "delete", o["kind"].lower(), o["metadata"]["name"], "--ignore-not-found", check=False
                )
