"""The install manifests as files: RBAC reasons, the Deployment's shape, the GitOps examples.

What the API server makes of them is in tests/integration/test_install.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from esml_operator.reconcile.spec import cloud_id_url

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "manifests" / "base"
RBAC_FILES = [BASE / "clusterrole.yaml", BASE / "role.yaml"]
VERB_LINE = re.compile(r"^\s+- (?P<verb>[a-z]+)\s*(?:#\s*(?P<reason>\S.*))?$")


def load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def commented_verbs(text: str) -> list[tuple[str, str | None]]:
    """(verb, reason) for every item of every ``verbs:`` block, in file order."""
    found: list[tuple[str, str | None]] = []
    in_verbs = False
    for line in text.splitlines():
        if line.strip() == "verbs:":
            in_verbs = True
            continue
        match = VERB_LINE.match(line) if in_verbs else None
        if match:
            found.append((match["verb"], match["reason"]))
        elif in_verbs and line.strip() and not line.strip().startswith("#"):
            in_verbs = False
    return found


@pytest.mark.parametrize("path", RBAC_FILES, ids=lambda p: p.name)
def test_every_rbac_verb_has_its_reason(path: Path) -> None:
    text = path.read_text()
    from_yaml = [verb for doc in load(path) for rule in doc["rules"] for verb in rule["verbs"]]
    from_text = commented_verbs(text)
    assert [verb for verb, _ in from_text] == from_yaml, "every verb on its own line, as a block list"
    assert [verb for verb, reason in from_text if not reason or len(reason) < 15] == []
    assert "*" not in text.replace("# ", "")


def test_reason_checker_notices_a_verb_without_reason() -> None:
    text = "rules:\n  - resources: [x]\n    verbs:\n      - get # read the thing by name\n      - list\n"
    assert commented_verbs(text) == [("get", "read the thing by name"), ("list", None)]


def test_leader_election_role_is_namespaced_and_minimal() -> None:
    (role,) = load(BASE / "role.yaml")
    (binding,) = load(BASE / "rolebinding.yaml")
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == "esml-system"
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["esml-operator"],
            "verbs": ["get", "update"],
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "esml-operator", "namespace": "esml-system"}]


def deployment() -> dict[str, Any]:
    (doc,) = load(BASE / "deployment.yaml")
    return doc


def test_deployment_runs_two_replicas_that_hand_over_through_the_lease() -> None:
    spec = deployment()["spec"]
    assert spec["replicas"] == 2
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    container = spec["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    # Leader election is the operator's default; nothing here may turn it off.
    assert "--no-leader-election" not in container["args"]
    assert "ESML_LEADER_ELECTION" not in env
    (pdb,) = load(BASE / "poddisruptionbudget.yaml")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == spec["selector"]


def test_operator_deployment_is_hardened() -> None:
    pod = deployment()["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert [container["command"], container["args"]] == [["esml-operator"], ["run", "--all-namespaces"]]
    assert pod["serviceAccountName"] == "esml-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "health", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    assert set(container["resources"]) == {"requests", "limits"}


# -- GitOps examples ------------------------------------------------------------------------------


def test_argocd_application_leaves_an_hpa_owned_allocation_count_alone() -> None:
    (app,) = load(REPO / "manifests" / "argocd" / "application.yaml")
    assert app["kind"] == "Application" and app["apiVersion"] == "argoproj.io/v1alpha1"
    assert app["spec"]["ignoreDifferences"] == [
        {"group": "esml.io", "kind": "ModelDeployment", "jsonPointers": ["/spec/numberOfAllocations"]}
    ]
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_argocd_health_script_is_shipped_in_argo_cds_layout() -> None:
    argocd = REPO / "manifests" / "argocd"
    layout = argocd / "resource_customizations" / "esml.io" / "ModelDeployment"
    assert (argocd / "health.lua").resolve() == (layout / "health.lua").resolve()
    assert (layout / "health_test.yaml").is_file()
    tests = yaml.safe_load((layout / "health_test.yaml").read_text())["tests"]
    assert {t["healthStatus"]["status"] for t in tests} == {"Healthy", "Progressing", "Degraded", "Suspended"}
    assert sorted(t["inputPath"] for t in tests) == sorted(
        f"testdata/{p.name}" for p in (layout / "testdata").glob("*.yaml")
    )


def test_flux_example_installs_the_entry_point_and_waits_for_model_deployments() -> None:
    docs = load(REPO / "manifests" / "flux" / "esml-operator.yaml")
    kustomizations = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Kustomization"}
    install = kustomizations["esml-operator"]
    assert install["path"] == "./manifests" and (REPO / "manifests" / "kustomization.yaml").is_file()
    assert install["wait"] is True
    models = kustomizations["ml-models"]
    assert models["dependsOn"] == [{"name": "esml-operator"}]
    assert {(c["apiVersion"], c["kind"]) for c in models["healthChecks"]} == {("esml.io/v1alpha1", "ModelDeployment")}
    sources = {d["metadata"]["name"] for d in docs if d["kind"] == "GitRepository"}
    assert {k["sourceRef"]["name"] for k in kustomizations.values()} <= sources


# -- docs: the copy-and-paste examples are the shipped files --------------------------------------------


def doc(path: str) -> str:
    return (REPO / "docs" / path).read_text()


def yaml_blocks(section: str) -> list[Any]:
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    return [yaml.safe_load(block) for block in blocks]


def test_gitops_guide_examples_are_the_shipped_files() -> None:
    blocks = yaml_blocks(doc("guides/gitops.md"))
    (app,) = load(REPO / "manifests" / "argocd" / "application.yaml")
    assert app in blocks
    flux = load(REPO / "manifests" / "flux" / "esml-operator.yaml")
    models = next(d for d in flux if d["kind"] == "Kustomization" and d["metadata"]["name"] == "ml-models")
    assert models in blocks
    lua = (REPO / "manifests" / "argocd" / "health.lua").read_text()
    (argocd_cm,) = [b for b in blocks if b.get("kind") == "ConfigMap"]
    assert argocd_cm["data"] == {"resource.customizations.health.esml.io_ModelDeployment": lua}


def test_elastic_cloud_guide_example_is_the_shipped_example() -> None:
    section = doc("guides/elastic-cloud.md")
    (guide_mdep,) = [b for b in yaml_blocks(section) if b.get("kind") == "ModelDeployment"]
    (example,) = load(REPO / "manifests" / "examples" / "modeldeployment-elastic-cloud.yaml")
    assert guide_mdep["spec"] == example["spec"]
    assert f"`{cloud_id_url(example['spec']['elasticsearch']['cloudId'])}`" in section


def test_install_docs_use_the_entry_point() -> None:
    # An overlay on the entry point, naming the image the user built and pushed: the README and the install page.
    for text in ((REPO / "README.md").read_text(), doc("operations/install.md")):
        assert "resources:\n  - ../manifests\n" in text and "kubectl apply -k my-install/" in text
    install = doc("operations/install.md")
    for kind, name in [("Deployment", "esml-operator"), ("PodDisruptionBudget", "esml-operator")]:
        assert f"| {kind} | `{name}` |" in install
    upgrade = doc("operations/upgrade.md")
    assert "kubectl delete -k manifests/base" in upgrade and "kubectl delete -k manifests/\n" in upgrade
    development = doc("development.md")
    assert "make lock UPGRADE=1" in development and "make lock UPGRADE_PACKAGE=" in development
