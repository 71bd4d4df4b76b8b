"""The install's RBAC is enough: the operator, holding only the installed ClusterRole and Role, does its job.

tests/integration/test_install.py proves by impersonation that the operator's
ServiceAccount may do nothing more than it needs; this proves the other half.
A user bound to exactly the installed ClusterRole and leader-election Role
(bindings copied from the install's, with a User subject: the test harness
authenticates with client certificates, not ServiceAccount tokens) runs
``esml-operator run --all-namespaces`` as the Deployment does, elects itself
through the Lease ``esml-system/esml-operator``, and takes resources through a
URL connection and an ECK reference, scaling, Events, the finalizer and a
deletion that stops the deployment. Any 403 from Kubernetes would show.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.polling import wait_for
from harness.runner import REPO, ControlPlane
from tests.e2e.conftest import Kube, model_deployment, ready
from tests.e2e.test_connections import ECK_NAME, eck_manifest, eck_objects
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

USER = "esml-operator-rbac-check"
FINALIZER = "esml.io/stop-deployment"


def bind_user_like_the_install(cp: ControlPlane, manifests: Path = REPO / "manifests") -> Path:
    """Install ``manifests`` and a kubeconfig for a user bound to its ClusterRole and leader-election Role."""
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-k", str(manifests))
    subject = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}]
    bindings = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": USER},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "esml-operator"},
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": USER, "namespace": "esml-system"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "esml-operator-leader-election",
            },
            "subjects": subject,
        },
    ]
    cp.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(b) for b in bindings))
    kubeconfig = cp.kubeconfig_for(USER)
    # Bindings reach the authorizer through an informer: wait until they do.
    wait_for(
        lambda: (
            cp.kubectl(
                "auth",
                "can-i",
                "watch",
                "modeldeployments.esml.io",
                "--all-namespaces",
                kubeconfig=kubeconfig,
                check=False,
            ).stdout.strip()
            == "yes"
        ),
        what="the user's ClusterRoleBinding to take effect",
    )
    return kubeconfig


def test_operator_works_with_exactly_the_installed_permissions(
    control_plane: ControlPlane,
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    tmp_path: Path,
) -> None:
    kubeconfig = bind_user_like_the_install(control_plane)
    eck_objects(kube, simulator)
    operator = OperatorProcess(
        kubeconfig,
        namespaces=(),  # --all-namespaces, as the Deployment runs it
        resync_interval=2.0,
        lease="esml-operator",
        extra=("--lease-namespace", "esml-system", "--eck-url-template", "https://localhost:{port}"),
        workdir=tmp_path / "operator",
    )
    try:
        # Leader election through the Lease the Role allows.
        lease = wait_for(
            lambda: (
                json.loads(
                    control_plane.kubectl(
                        "get", "lease", "-n", "esml-system", "esml-operator", "-o", "json", check=False
                    ).stdout
                    or "{}"
                )
                .get("spec", {})
                .get("holderIdentity")
                == operator.identity
            ),
            what="the operator to hold esml-system/esml-operator",
        )
        assert lease

        # A URL connection (Secrets by name), status, Events, the finalizer, /scale.
        kube.apply(model_deployment("by-url", es_url, allocations=1, deletionPolicy="Stop"))
        wait_for(lambda: ready(kube, "by-url"), what="by-url Ready")
        wait_for(lambda: kube.mdep("by-url")["metadata"].get("finalizers") == [FINALIZER], what="the finalizer")
        kube.kubectl("scale", "mdep/by-url", "--replicas=2")
        wait_for(
            lambda: ready(kube, "by-url") and kube.mdep("by-url")["status"].get("allocations") == 2,
            what="scaled to 2",
        )
        assert "Ready" in [e["reason"] for e in kube.events("by-url")]

        # An ECK reference (the Service by name, ECK's Secrets).
        kube.apply(eck_manifest("by-eck", {"name": ECK_NAME}, deploymentId="eck-one"))
        wait_for(lambda: ready(kube, "by-eck"), what="by-eck Ready")

        # Deletion with deletionPolicy Stop: the deployment is stopped, then the finalizer released.
        kube.kubectl("delete", "mdep/by-url", "--timeout=30s")
        assert simulator.deployment(DEMO_MODEL) is None
        assert kube.get("modeldeployment", "by-url") is None

        log = operator.log
        # The API server's refusals ("... is forbidden: User ... cannot ..."), as kopf and the client log them.
        # Not any "forbidden": with --all-namespaces the operator also sees other tests' leftovers, and one may
        # be reported as CrossNamespaceReferenceForbidden.
        refusals = [line for line in log.splitlines() if "is forbidden: User" in line or "APIForbiddenError" in line]
        assert refusals == [], refusals[:5]
    finally:
        operator.stop()
