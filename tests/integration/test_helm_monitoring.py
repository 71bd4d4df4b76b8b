"""The alert rules and the Grafana dashboard as users install them: `kubectl apply -k manifests/prometheus` and
`manifests/grafana` (opt-in, outside the default install), and the chart's copies behind values."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from harness.runner import DEFAULT_BIN, REPO
from tests.support.helm import CHART, Helm, find

RULE_SOURCE = REPO / "manifests" / "prometheus" / "prometheusrule.yaml"
DASHBOARD_SOURCE = REPO / "manifests" / "grafana" / "esml-operator.json"


def test_the_charts_copies_are_the_sources() -> None:
    """files/ holds copies (helm cannot read outside the chart); `make chart-files` refreshes them."""
    assert (CHART / "files" / "prometheusrule.yaml").read_bytes() == RULE_SOURCE.read_bytes(), "make chart-files"
    assert (CHART / "files" / "grafana-dashboard.json").read_bytes() == DASHBOARD_SOURCE.read_bytes(), (
        "make chart-files"
    )


def test_off_by_default(tmp_path: Path) -> None:
    kinds = {o["kind"] for o in Helm(tmp_path).objects()}
    assert "PrometheusRule" not in kinds
    assert not [
        o for o in Helm(tmp_path).objects() if o["kind"] == "ConfigMap" and "dashboard" in o["metadata"]["name"]
    ]


def test_the_rendered_rule_is_the_manifests_rule_with_the_release_labels(tmp_path: Path) -> None:
    objects = Helm(tmp_path).objects(
        "--set", "prometheusRule.enabled=true", "--set", "prometheusRule.labels.release=kube-prometheus-stack"
    )
    rule = find(objects, "PrometheusRule", "esml-operator")
    assert rule["spec"] == yaml.safe_load(RULE_SOURCE.read_text())["spec"]  # {{ $labels }} untouched by helm
    assert "{{ $labels.namespace }}" in json.dumps(rule["spec"])
    assert rule["metadata"]["namespace"] == "esml-system"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_the_rendered_dashboard_is_the_manifests_json_for_grafanas_sidecar(tmp_path: Path) -> None:
    objects = Helm(tmp_path).objects("--set", "grafanaDashboard.enabled=true")
    config_map = find(objects, "ConfigMap", "esml-operator-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config_map["data"]["esml-operator.json"]) == json.loads(DASHBOARD_SOURCE.read_text())
    moved = Helm(tmp_path).objects(
        "--set",
        "grafanaDashboard.enabled=true",
        "--set",
        "grafanaDashboard.namespace=monitoring",
        "--set",
        "grafanaDashboard.labels.my_dashboards=yes",
    )
    config_map = find(moved, "ConfigMap", "esml-operator-dashboard")
    assert config_map["metadata"]["namespace"] == "monitoring"
    assert config_map["metadata"]["labels"]["my_dashboards"] == "yes"
    assert "grafana_dashboard" not in config_map["metadata"]["labels"]


def test_the_monitors_keep_the_series_own_namespace_label(tmp_path: Path) -> None:
    """Without honorLabels Prometheus renames the per-resource `namespace` label exported_namespace."""
    helm = Helm(tmp_path)
    pod = find(helm.objects("--set", "metrics.podMonitor.enabled=true"), "PodMonitor", "esml-operator")
    assert pod["spec"]["podMetricsEndpoints"][0]["honorLabels"] is True
    service = find(helm.objects("--set", "metrics.serviceMonitor.enabled=true"), "ServiceMonitor", "esml-operator")
    assert service["spec"]["endpoints"][0]["honorLabels"] is True
    manifests = yaml.safe_load((REPO / "manifests" / "prometheus" / "podmonitor.yaml").read_text())
    assert manifests["spec"]["podMetricsEndpoints"][0]["honorLabels"] is True


def kustomize(folder: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [str(DEFAULT_BIN / "kubectl"), "kustomize", str(REPO / folder)], capture_output=True, text=True, check=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def test_the_kustomize_folders_render_the_monitoring_objects_and_the_install_leaves_them_out() -> None:
    prometheus = {(o["kind"], o["metadata"]["namespace"]) for o in kustomize("manifests/prometheus")}
    assert prometheus == {("PodMonitor", "esml-system"), ("PrometheusRule", "esml-system")}
    (config_map,) = kustomize("manifests/grafana")
    assert config_map["metadata"] == {  # no hash suffix: the name is stable for the sidecar
        "name": "esml-operator-dashboard",
        "namespace": "esml-system",
        "labels": {
            "grafana_dashboard": "1",
            "app.kubernetes.io/name": "esml-operator",
            "app.kubernetes.io/component": "dashboard",
        },
    }
    assert json.loads(config_map["data"]["esml-operator.json"]) == json.loads(DASHBOARD_SOURCE.read_text())
    install = {o["kind"] for o in kustomize("manifests")}
    assert not install & {"PodMonitor", "PrometheusRule"}, "the default install must not need the Prometheus CRDs"
