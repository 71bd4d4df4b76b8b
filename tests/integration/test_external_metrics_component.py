"""manifests/components/external-metrics on the real kube-apiserver: it builds onto the install, passes a
server-side dry run, grants what it says, and the leader's pod label (which its Service follows) works."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from esml_operator.metrics.servers import LEADER_LABEL, LeaderPodLabel
from harness.polling import wait_for_async
from harness.runner import REPO, ControlPlane
from tests.integration.kube_client import operator_client
from tests.integration.test_install import OPERATOR_NAMESPACE, OPERATOR_SA, documents, ensure_namespace

PENDING = "esml_modeldeployment_inference_pending_requests"
COMPONENT = REPO / "manifests" / "components" / "external-metrics"


def overlay(tmp_path: Path) -> Path:
    """An install overlay that adds the component, as manifests/README.md shows."""
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(REPO / "manifests", tmp_path)],
                "components": [os.path.relpath(COMPONENT, tmp_path)],
            }
        )
    )
    return tmp_path


def built(cp: ControlPlane, tmp_path: Path) -> list[dict[str, Any]]:
    return documents(cp.kubectl("kustomize", "--load-restrictor=LoadRestrictionsNone", str(overlay(tmp_path))).stdout)


def by_kind(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_the_component_wires_the_api_to_the_leader(control_plane: ControlPlane, tmp_path: Path) -> None:
    docs = built(control_plane, tmp_path)
    api = by_kind(docs, "APIService", "v1beta1.external.metrics.k8s.io")
    service = by_kind(docs, "Service", api["spec"]["service"]["name"])
    assert service["metadata"]["namespace"] == api["spec"]["service"]["namespace"] == OPERATOR_NAMESPACE
    assert api["spec"]["insecureSkipTLSVerify"] is False
    assert service["spec"]["selector"][LEADER_LABEL] == "true"
    assert [p["port"] for p in service["spec"]["ports"]] == [api["spec"]["service"]["port"]]
    deployment = by_kind(docs, "Deployment", "esml-operator")
    pod = deployment["spec"]["template"]
    assert all(pod["metadata"]["labels"][k] == v for k, v in service["spec"]["selector"].items() if k != LEADER_LABEL)
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ESML_EXTERNAL_METRICS"] == "true"
    assert {"POD_NAME", "POD_NAMESPACE"} <= set(env)  # the leader labels its own pod by name
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["ext-metrics"] == int(env["ESML_EXTERNAL_METRICS_ENDPOINT"].rsplit(":", 1)[1])
    assert service["spec"]["ports"][0]["targetPort"] == "ext-metrics"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "external-metrics-tls")
    assert env["ESML_EXTERNAL_METRICS_CERT_FILE"] == f"{mount['mountPath']}/tls.crt"
    assert env["ESML_EXTERNAL_METRICS_KEY_FILE"] == f"{mount['mountPath']}/tls.key"
    assert any(v["name"] == "external-metrics-tls" for v in pod["spec"]["volumes"])


def test_the_install_with_the_component_passes_a_server_side_dry_run(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    docs = built(control_plane, tmp_path)
    ensure_namespace(control_plane, OPERATOR_NAMESPACE)
    proc = control_plane.kubectl(
        "apply", "--server-side", "--dry-run=server", "-f", "-", input=yaml.safe_dump_all(docs), check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == len(docs), proc.stdout
    assert "Warning" not in proc.stderr, proc.stderr


def can_i(cp: ControlPlane, user: str, *args: str) -> bool:
    proc = cp.kubectl("auth", "can-i", f"--as={user}", *args, check=False)
    return proc.stdout.strip() == "yes"


def allowed(cp: ControlPlane, user: str, groups: list[str], **attributes: str) -> bool:
    """A SubjectAccessReview (works for an API group that is not served, unlike kubectl auth can-i)."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": groups, "resourceAttributes": attributes},
    }
    return bool(
        json.loads(cp.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(review)).stdout)["status"]["allowed"]
    )


def test_the_component_grants_what_it_says(control_plane: ControlPlane, tmp_path: Path) -> None:
    rbac = [d for d in documents((COMPONENT / "rbac.yaml").read_text())]
    ensure_namespace(control_plane, OPERATOR_NAMESPACE)
    text = yaml.safe_dump_all(rbac)
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=text)
    try:
        hpa = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"
        assert can_i(
            control_plane, OPERATOR_SA, "get", "configmap/extension-apiserver-authentication", "-n", "kube-system"
        )
        assert not can_i(control_plane, OPERATOR_SA, "get", "configmap/other", "-n", "kube-system")
        assert can_i(control_plane, OPERATOR_SA, "patch", "pods", "-n", OPERATOR_NAMESPACE)
        assert not can_i(control_plane, OPERATOR_SA, "patch", "pods", "-n", "default")
        assert not can_i(control_plane, OPERATOR_SA, "delete", "pods", "-n", OPERATOR_NAMESPACE)
        assert can_i(control_plane, OPERATOR_SA, "list", "horizontalpodautoscalers.autoscaling", "-A")
        assert not can_i(control_plane, OPERATOR_SA, "update", "horizontalpodautoscalers.autoscaling", "-A")
        metric = {"group": "external.metrics.k8s.io", "resource": PENDING, "verb": "get", "namespace": "default"}
        assert allowed(control_plane, hpa, ["system:serviceaccounts"], **metric)
        assert not allowed(control_plane, "system:serviceaccount:default:someone", ["system:serviceaccounts"], **metric)
    finally:
        control_plane.kubectl("delete", "-f", "-", "--ignore-not-found", input=text)


async def test_the_leader_labels_its_own_pod(control_plane: ControlPlane, namespace: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "operator-0", "labels": {"app": "esml"}},
        "spec": {"containers": [{"name": "operator", "image": "esml-operator:test"}]},
    }
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod))
    api_client = await operator_client(control_plane.kubeconfig)
    label = LeaderPodLabel(api_client, "operator-0", namespace, retry=0.1)

    def label_is(value: str) -> bool:
        out = control_plane.kubectl("get", "pod", "operator-0", "-n", namespace, "-o", "json").stdout
        return bool(json.loads(out)["metadata"]["labels"].get(LEADER_LABEL) == value)

    async def labelled(value: str) -> None:
        await wait_for_async(lambda: label_is(value), within=30, interval=0.05, what=f"{LEADER_LABEL}={value}")

    try:
        label.set(True)
        await labelled("true")
        label.set(False)
        label.set(True)  # the latest wish wins, whatever was under way
        label.set(False)
        await labelled("false")
        labels = json.loads(control_plane.kubectl("get", "pod", "operator-0", "-n", namespace, "-o", "json").stdout)
        assert labels["metadata"]["labels"]["app"] == "esml"  # a merge patch: the other labels stay
    finally:
        await label.close()
        await api_client.close()
