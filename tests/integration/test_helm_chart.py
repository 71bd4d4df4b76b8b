"""The Helm chart (charts/esml-operator) as files and renders: no API server needed here.

* Its CRDs are the single source in crds/ (``make chart-crds`` copies them).
* ``helm lint --strict`` passes, and ``helm template`` matches tests/golden/helm-template.yaml
  (``ESML_UPDATE_GOLDEN=1`` rewrites it).
* One install, two packagings: the default render and ``kubectl kustomize manifests/`` (and the two with
  the external metrics API) are the same objects: kinds, names, RBAC rules, container args and security.
* Each value does what values.yaml says, and bad values fail the render with a message that names them.

What the API server makes of the chart (dry run, install, upgrade, uninstall, RBAC) is in test_helm_install.py.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from esml_operator.settings import Settings
from harness.runner import DEFAULT_BIN, REPO
from tests.support import helm as helm_support
from tests.support.helm import CHART, NAMESPACE, Helm, documents, find

GOLDEN = REPO / "tests" / "golden" / "helm-template.yaml"
KUSTOMIZE_NAMESPACE = "Namespace"  # the one object only kustomize makes: Helm's convention is --create-namespace
# Settings the chart sets from its own values (the rest are values under `settings`, one each).
CHART_MANAGED = {
    "namespaces": "watchNamespaces",
    "all_namespaces": "watchNamespaces (empty)",
    "leader_election": "leaderElection.enabled",
    "lease_name": "leaderElection.leaseName",
    "lease_namespace": "the release namespace (POD_NAMESPACE)",
    "lease_duration": "leaderElection.leaseDuration",
    "renew_deadline": "leaderElection.renewDeadline",
    "retry_period": "leaderElection.retryPeriod",
    "identity": "the pod name (POD_NAME)",
    "liveness_endpoint": "the liveness probe (port 8080)",
    "metrics_endpoint": "metrics.enabled, metrics.port",
    "external_metrics": "externalMetrics.enabled",
    "external_metrics_endpoint": "externalMetrics (port 6443)",
    "external_metrics_cert_file": "externalMetrics (the mounted Secret)",
    "external_metrics_key_file": "externalMetrics (the mounted Secret)",
    "requestheader_client_ca_file": "not set: read from kube-system/extension-apiserver-authentication",
    "requestheader_allowed_names": "not set: as that ConfigMap says",
    "kubeconfig": "not set: in-cluster",
}


@pytest.fixture
def helm(tmp_path: Path) -> Helm:
    return Helm(tmp_path / "helm-home")


def kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = DEFAULT_BIN / "kubectl"
    if not kubectl.exists():
        pytest.fail(f"kubectl is missing at {kubectl}: run `make controlplane`")
    cmd = [str(kubectl), "kustomize", "--load-restrictor=LoadRestrictionsNone", str(path)]
    return documents(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout)


def container(objects: list[dict[str, Any]], name: str = "esml-operator") -> dict[str, Any]:
    (operator,) = find(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    return dict(operator)


def env(objects: list[dict[str, Any]], name: str = "esml-operator") -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container(objects, name)["env"]}


def test_helm_is_the_pinned_version_and_keeps_to_its_own_home(helm: Helm, tmp_path: Path) -> None:
    pinned = (REPO / "harness" / "versions.env").read_text().split("\nHELM=", 1)[1].split()[0]
    assert helm.run("version", "--template", "{{.Version}}").stdout == f"v{pinned}"
    settings = dict(line.split("=", 1) for line in helm.run("env").stdout.splitlines() if "=" in line)
    for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert settings[key].strip('"').startswith(str(tmp_path)), (key, settings[key])


def test_a_missing_helm_fails_the_test_instead_of_skipping_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helm_support, "DEFAULT_BIN", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="make helm"):
        Helm(tmp_path / "helm-home")


# -- the chart's CRDs are the single source ---------------------------------------------------------------


def test_chart_crds_are_copies_of_the_single_source() -> None:
    sources = sorted(p.name for p in (REPO / "crds").glob("*.yaml"))
    assert sources and sorted(p.name for p in (CHART / "crds").iterdir()) == sources
    for name in sources:
        copy = (CHART / "crds" / name).read_text()
        header, _, body = copy.partition("\n")
        assert header.startswith("# Generated from crds/") and "make chart-crds" in header
        assert body == (REPO / "crds" / name).read_text(), f"charts/esml-operator/crds/{name} is stale: make chart-crds"


# -- lint and golden -------------------------------------------------------------------------------------

LINTED_VALUES = [
    [],
    ["--set", "watchNamespaces={ml,search}"],
    ["--set", "externalMetrics.enabled=true", "--set", "metrics.serviceMonitor.enabled=true"],
    ["--set", "replicas=1", "--set", "leaderElection.enabled=false", "--set", "metrics.podMonitor.enabled=true"],
]


@pytest.mark.parametrize("values", LINTED_VALUES, ids=["default", "namespaced", "external-metrics", "single"])
def test_helm_lint_strict_passes(helm: Helm, values: list[str]) -> None:
    proc = helm.run("lint", "--strict", str(CHART), "--namespace", NAMESPACE, *values, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout, proc.stdout
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


def test_helm_lint_strict_notices_a_broken_chart(helm: Helm, tmp_path: Path) -> None:
    """Control: a template that renders invalid YAML fails the strict lint."""
    broken = tmp_path / "esml-operator"
    subprocess.run(["cp", "-r", str(CHART), str(broken)], check=True)
    (broken / "templates" / "broken.yaml").write_text("kind: ConfigMap\nmetadata: {name: x\n")
    proc = helm.run("lint", "--strict", str(broken), check=False)
    assert proc.returncode != 0, proc.stdout


def test_template_matches_the_golden_file(helm: Helm) -> None:
    rendered = helm.run("template", "esml-operator", str(CHART), "--namespace", NAMESPACE).stdout
    if os.environ.get("ESML_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(rendered)
    assert GOLDEN.exists(), "create it with ESML_UPDATE_GOLDEN=1"
    assert rendered == GOLDEN.read_text(), (
        "helm template differs from tests/golden/helm-template.yaml; review the change, then accept it with "
        "ESML_UPDATE_GOLDEN=1 .venv/bin/pytest tests/integration/test_helm_chart.py -k golden"
    )


# -- one install, two packagings ------------------------------------------------------------------------


def same_install(chart: list[dict[str, Any]], kustomized: list[dict[str, Any]]) -> None:
    """The chart's objects are kustomize's: kinds, names, namespaces, RBAC, the operator's pod."""

    def key(o: dict[str, Any]) -> tuple[str, str, str]:
        return o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", "")

    expected = sorted(key(o) for o in kustomized if o["kind"] != KUSTOMIZE_NAMESPACE)
    assert sorted(key(o) for o in chart) == expected
    operator_objects = [o for o in chart if o["kind"] in {"Deployment", "ServiceAccount"}]
    assert {o["metadata"].get("namespace") for o in operator_objects} == {NAMESPACE}
    ours = {key(o): o for o in chart}
    for theirs in kustomized:
        if theirs["kind"] == KUSTOMIZE_NAMESPACE:
            continue
        mine = ours[key(theirs)]
        what = "/".join(key(theirs))
        if theirs["kind"] in {"ClusterRole", "Role"}:
            assert mine["rules"] == theirs["rules"], what
        if theirs["kind"] in {"ClusterRoleBinding", "RoleBinding"}:
            assert (mine["roleRef"], mine["subjects"]) == (theirs["roleRef"], theirs["subjects"]), what
        if theirs["kind"] == "CustomResourceDefinition":
            assert mine["spec"] == theirs["spec"], what
        if theirs["kind"] == "APIService":
            assert mine["spec"] == theirs["spec"], what
        if theirs["kind"] == "PodDisruptionBudget":
            assert mine["spec"]["maxUnavailable"] == theirs["spec"]["maxUnavailable"], what
            assert theirs["spec"]["selector"]["matchLabels"].items() <= mine["spec"]["selector"]["matchLabels"].items()
        if theirs["kind"] == "Service":
            assert mine["spec"]["ports"] == theirs["spec"]["ports"], what
            assert theirs["spec"]["selector"].items() <= mine["spec"]["selector"].items(), what
        if theirs["kind"] == "Deployment":
            same_deployment(mine, theirs)


def same_deployment(mine: dict[str, Any], theirs: dict[str, Any]) -> None:
    for field in ("replicas", "strategy"):
        assert mine["spec"][field] == theirs["spec"][field], field
    pod, their_pod = mine["spec"]["template"]["spec"], theirs["spec"]["template"]["spec"]
    for field in ("serviceAccountName", "automountServiceAccountToken", "terminationGracePeriodSeconds"):
        assert pod[field] == their_pod[field], field
    assert pod["securityContext"] == their_pod["securityContext"]
    assert by_name(pod["volumes"]) == by_name(their_pod["volumes"])
    assert theirs["spec"]["selector"]["matchLabels"].items() <= mine["spec"]["selector"]["matchLabels"].items()
    (c,), (their_c,) = pod["containers"], their_pod["containers"]
    for field in ("name", "image", "imagePullPolicy", "command", "args", "securityContext", "resources"):
        assert c[field] == their_c[field], field
    assert c["livenessProbe"] == their_c["livenessProbe"]
    for field in ("ports", "volumeMounts"):  # in any order (a kustomize patch puts its items first)
        assert by_name(c[field]) == by_name(their_c[field]), field
    their_env, my_env = by_name(their_c["env"]), by_name(c["env"])
    assert {k: my_env.get(k) for k in their_env} == their_env, "every variable kustomize sets, with its value"


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    named = {item["name"]: item for item in items}
    assert len(named) == len(items), f"a name twice in {items}"
    return named


def test_default_chart_installs_what_kustomize_installs(helm: Helm) -> None:
    chart = helm.objects("--include-crds")
    same_install(chart, kustomize(REPO / "manifests"))
    # The extra variables the chart always sets are the operator's defaults spelled out.
    defaults = Settings.load(["--all-namespaces"], {})
    assert {k: v for k, v in env(chart).items() if k.startswith("ESML_")} == {
        "ESML_LEASE_NAME": defaults.lease_name,
        "ESML_METRICS_ENDPOINT": defaults.metrics_endpoint,
    }


def test_chart_with_external_metrics_installs_what_the_component_adds(helm: Helm, tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(REPO / "manifests", tmp_path)],
                "components": [os.path.relpath(REPO / "manifests" / "components" / "external-metrics", tmp_path)],
            }
        )
    )
    chart = helm.objects("--include-crds", "--set", "externalMetrics.enabled=true")
    same_install(chart, kustomize(tmp_path))


def test_the_comparison_notices_a_difference(helm: Helm) -> None:
    """Control: a chart value that changes the install (a container argument, a rule) fails the comparison."""
    kustomized = kustomize(REPO / "manifests")
    with pytest.raises(AssertionError):
        same_install(helm.objects("--include-crds", "--set", "resources.limits.memory=1Gi"), kustomized)
    chart = helm.objects("--include-crds")
    find(chart, "ClusterRole", "esml-operator")["rules"][0]["verbs"].append("get")
    with pytest.raises(AssertionError):
        same_install(chart, kustomized)


# -- values ------------------------------------------------------------------------------------------------


def test_every_operator_setting_is_a_value_or_set_by_the_chart() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    fields = {f.name for f in dataclasses.fields(Settings)}
    from_values = {name for name in fields if _camel(name) in values["settings"]}
    assert set(values["settings"]) == {_camel(name) for name in from_values}, "a settings value the operator lacks"
    assert fields - from_values == set(CHART_MANAGED), "a setting neither in values.yaml nor set by the chart"
    assert all(value is None for value in values["settings"].values()), "null: the operator's own default"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


# A non-default, valid value for every setting in values.yaml (as --set-string / --set arguments).
EVERY_SETTING = {
    "resyncInterval": ("10", 10.0),
    "minPollInterval": ("0.5", 0.5),
    "statusHeartbeat": ("300", 300.0),
    "connectTimeout": ("3", 3.0),
    "requestTimeout": ("20", 20.0),
    "idleConnections": ("2", 2),
    "idleConnectionExpiry": ("45", 45.0),
    "kubeRequestTimeout": ("4", 4.0),
    "maxConcurrentReconciles": ("8", 8),
    "catchUpPasses": ("64", 64),
    "actionBurst": ("2", 2),
    "actionRate": ("0.5", 0.5),
    "allowPlainHttpCredentials": ("true", True),
    "allowCrossNamespaceRefs": ("true", True),
    "eckUrlTemplate": ("https://{service}.{namespace}.example:{port}", "https://{service}.{namespace}.example:{port}"),
    "logLevel": ("DEBUG", "DEBUG"),
    "logFormat": ("json", "json"),
    "eventLoop": ("asyncio", "asyncio"),
}


def test_every_setting_reaches_the_operator_as_its_variable(helm: Helm, tmp_path: Path) -> None:
    """The rendered args and ESML_* variables, loaded by the operator's own Settings, give the values set."""
    values = {
        "settings": {k: yaml.safe_load(raw) if k != "eckUrlTemplate" else raw for k, (raw, _) in EVERY_SETTING.items()},
        "leaderElection": {"leaseName": "ml-leader", "leaseDuration": 20, "renewDeadline": 12, "retryPeriod": 3},
        "watchNamespaces": ["ml", "search"],
        "metrics": {"port": 9100},
    }
    assert set(values["settings"]) == set(yaml.safe_load((CHART / "values.yaml").read_text())["settings"])
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    chart = helm.objects("-f", str(tmp_path / "values.yaml"))
    c = container(chart)
    assert c["command"] == ["esml-operator"] and c["args"][0] == "run"
    variables = {k: v for k, v in env(chart).items() if k.startswith("ESML_") and v is not None}
    loaded = Settings.load(c["args"][1:], variables)
    for key, (_, expected) in EVERY_SETTING.items():
        name = "".join("_" + ch.lower() if ch.isupper() else ch for ch in key)
        assert getattr(loaded, name) == expected, key
    assert loaded.namespaces == ("ml", "search") and not loaded.all_namespaces
    lease = (loaded.lease_name, loaded.lease_duration, loaded.renew_deadline, loaded.retry_period)
    assert lease == ("ml-leader", 20, 12, 3)
    assert loaded.metrics_endpoint == "http://0.0.0.0:9100/metrics"
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"health": 8080, "metrics": 9100}
    (role,) = [o for o in chart if o["kind"] == "Role" and o["metadata"]["name"].endswith("-leader-election")]
    assert role["rules"][0]["resourceNames"] == ["ml-leader"]


def test_namespace_scoped_mode(helm: Helm) -> None:
    chart = helm.objects("--set", "watchNamespaces={ml,search}")
    assert container(chart)["args"] == ["run", "--namespace", "ml", "--namespace", "search"]
    cluster_role = find(chart, "ClusterRole", "esml-operator")
    crds, namespaces = cluster_role["rules"]
    assert (crds["resources"], namespaces["resources"]) == (["customresourcedefinitions"], ["namespaces"])
    assert namespaces["verbs"] == ["list", "watch"]  # kopf's namespace observation, namespace-scoped only
    kustomized_rules = find(kustomize(REPO / "manifests"), "ClusterRole", "esml-operator")["rules"]
    roles = [o for o in chart if o["kind"] == "Role" and o["metadata"]["name"] == "esml-operator"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["ml", "search"]
    for role in roles:
        # The Role is the cluster-wide grant without the CRD scan, in its namespace.
        assert role["rules"] + [crds] == kustomized_rules
        binding = find(
            [o for o in chart if o["metadata"].get("namespace") == role["metadata"]["namespace"]],
            "RoleBinding",
            "esml-operator",
        )
        assert binding["roleRef"]["name"] == "esml-operator"
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "esml-operator", "namespace": NAMESPACE}]


def test_release_name_and_namespace_name_everything(helm: Helm) -> None:
    chart = helm.objects("--include-crds", release="ml", namespace="ops")
    names = {(o["kind"], o["metadata"]["name"]) for o in chart}
    assert ("Deployment", "ml-esml-operator") in names and ("ClusterRole", "ml-esml-operator") in names
    assert all(
        o["metadata"].get("namespace") == "ops"
        for o in chart
        if o["kind"] not in {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
    )
    assert env(chart, "ml-esml-operator")["ESML_LEASE_NAME"] == "ml-esml-operator"
    binding = find(chart, "ClusterRoleBinding", "ml-esml-operator")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "ml-esml-operator", "namespace": "ops"}]
    overridden = helm.objects("--set", "fullnameOverride=esml")
    assert {o["metadata"]["name"] for o in overridden if o["kind"] == "Deployment"} == {"esml"}


def test_image_and_scheduling_values_land_on_the_pod(helm: Helm, tmp_path: Path) -> None:
    values = {
        "image": {"repository": "registry.example.com/ml/esml-operator", "tag": "9.9.9", "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "registry"}],
        "commonLabels": {"team": "ml"},
        "podLabels": {"tier": "control"},
        "podAnnotations": {"example.com/scrape": "yes"},
        "deploymentAnnotations": {"example.com/owner": "ml-platform"},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["system"]}]}
                    ]
                }
            }
        },
        "priorityClassName": "system-cluster-critical",
        "serviceAccount": {"annotations": {"example.com/role": "esml"}},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"}],
        "terminationGracePeriodSeconds": 60,
    }
    (tmp_path / "values.yaml").write_text(yaml.safe_dump(values))
    chart = helm.objects("-f", str(tmp_path / "values.yaml"))
    deployment = find(chart, "Deployment", "esml-operator")
    pod = deployment["spec"]["template"]
    c = container(chart)
    assert c["image"] == "registry.example.com/ml/esml-operator:9.9.9" and c["imagePullPolicy"] == "Always"
    assert all(o["metadata"]["labels"]["team"] == "ml" for o in chart)
    assert pod["metadata"]["labels"]["tier"] == "control"
    assert pod["metadata"]["annotations"] == values["podAnnotations"]
    assert deployment["metadata"]["annotations"] == values["deploymentAnnotations"]
    scheduling = ("nodeSelector", "tolerations", "affinity", "priorityClassName", "terminationGracePeriodSeconds")
    for field in ("imagePullSecrets", *scheduling):
        assert pod["spec"][field] == values[field], field
    assert find(chart, "ServiceAccount", "esml-operator")["metadata"]["annotations"] == {"example.com/role": "esml"}
    assert env(chart)["HTTPS_PROXY"] == "http://proxy.example.com:3128"
    # The default image is the chart's appVersion.
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    assert container(helm.objects())["image"] == f"esml-operator:{app_version}"


def test_monitors_select_the_operator_pods(helm: Helm) -> None:
    chart = helm.objects("--set", "metrics.podMonitor.enabled=true", "--set", "metrics.podMonitor.labels.release=prom")
    pod_labels = find(chart, "Deployment", "esml-operator")["spec"]["template"]["metadata"]["labels"]
    monitor = find(chart, "PodMonitor", "esml-operator")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert not [o for o in chart if o["kind"] in {"ServiceMonitor", "Service"}]

    chart = helm.objects("--set", "metrics.serviceMonitor.enabled=true")
    service = find(chart, "Service", "esml-operator-metrics")
    monitor = find(chart, "ServiceMonitor", "esml-operator")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert not [o for o in chart if o["kind"] == "PodMonitor"]
    assert not [o for o in helm.objects() if o["kind"] in {"PodMonitor", "ServiceMonitor", "Service"}]


def test_metrics_off_and_leader_election_off(helm: Helm) -> None:
    chart = helm.objects("--set", "metrics.enabled=false,replicas=1,leaderElection.enabled=false")
    variables = env(chart)
    assert variables["ESML_METRICS_ENDPOINT"] == "" and variables["ESML_LEADER_ELECTION"] == "false"
    assert "ESML_LEASE_NAME" not in variables
    assert [p["name"] for p in container(chart)["ports"]] == ["health"]
    assert not [o for o in chart if o["kind"] in {"Role", "RoleBinding"}]
    loaded = Settings.load(container(chart)["args"][1:], {k: v or "" for k, v in variables.items()})
    assert loaded.metrics_endpoint == "" and loaded.leader_election is False


def test_cert_manager_issues_the_external_metrics_certificate(helm: Helm) -> None:
    chart = helm.objects(
        "--set",
        "externalMetrics.enabled=true",
        "--set",
        "externalMetrics.certManager.enabled=true",
        "--set",
        "externalMetrics.certManager.issuerRef.name=cluster-ca",
    )
    certificate = find(chart, "Certificate", "esml-operator-external-metrics")
    api = find(chart, "APIService", "v1beta1.external.metrics.k8s.io")
    injected = api["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert injected == f"{NAMESPACE}/esml-operator-external-metrics"
    assert certificate["spec"]["dnsNames"] == [f"esml-operator-external-metrics.{NAMESPACE}.svc"]
    volumes = find(chart, "Deployment", "esml-operator")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "external-metrics-tls", "secret": {"secretName": certificate["spec"]["secretName"]}} in volumes
    api = find(
        helm.objects("--set", "externalMetrics.enabled=true", "--set", "externalMetrics.caBundle=Q0E="),
        "APIService",
        "v1beta1.external.metrics.k8s.io",
    )
    assert api["spec"]["caBundle"] == "Q0E=" and "annotations" not in api["metadata"]


# -- bad values: a clear error, nothing rendered --------------------------------------------------------

BAD_VALUES = [
    (["--set", "settings.resyncIntervall=10"], "resyncIntervall"),
    (["--set", "settings.resyncInterval=soon"], "resyncInterval"),
    (["--set", "settings.logFormat=xml"], "logFormat"),
    (["--set", "replicass=2"], "replicass"),
    (["--set", "watchNamespaces={ML}"], "watchNamespaces"),
    (["--set", "leaderElection.enabled=false"], "replicas above 1 need leaderElection.enabled"),
    (["--set", "metrics.podMonitor.enabled=true", "--set", "metrics.serviceMonitor.enabled=true"], "not both"),
    (["--set", "metrics.port=8080"], "liveness probe's port"),
    (["--set", "watchNamespaces={ml,ml}"], "names a namespace twice"),
    (["--set", "externalMetrics.enabled=true", "--set", "externalMetrics.certManager.enabled=true"], "issuerRef.name"),
]


@pytest.mark.parametrize(("values", "message"), BAD_VALUES, ids=[m for _, m in BAD_VALUES])
def test_bad_values_fail_the_render_with_a_clear_message(helm: Helm, values: list[str], message: str) -> None:
    proc = helm.template(*values, check=False)
    assert proc.returncode != 0, proc.stdout
    assert message in proc.stderr, proc.stderr
    assert proc.stdout == ""
