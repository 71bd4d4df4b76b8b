"""Settings of the metrics endpoint and the external metrics API: defaults, environment, checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from esml_operator.settings import Settings

ALL = ["--all-namespaces"]


def _error(argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        Settings.load(argv, environ)
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_defaults_keep_metrics_apart_from_the_liveness_probe() -> None:
    settings = Settings.load(ALL, {})
    assert settings.metrics_endpoint == "http://0.0.0.0:8081/metrics"
    assert settings.liveness_endpoint == "http://0.0.0.0:8080/healthz"
    assert settings.external_metrics is False
    assert settings.external_metrics_endpoint == "https://0.0.0.0:6443"


def test_the_environment_sets_and_an_empty_value_disables() -> None:
    url = "http://127.0.0.1:9100/m"
    assert Settings.load(ALL, {"ESML_METRICS_ENDPOINT": url}).metrics_endpoint == url
    assert Settings.load(ALL, {"ESML_METRICS_ENDPOINT": ""}).metrics_endpoint == ""
    assert Settings.load([*ALL, "--metrics-endpoint", ""], {"ESML_METRICS_ENDPOINT": url}).metrics_endpoint == ""


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--metrics-endpoint", "https://0.0.0.0:8081/metrics"], {}, "must start with http://"),
        (["--metrics-endpoint", "http://0.0.0.0/metrics"], {}, "needs a port from 1 to 65535"),
        ([], {"ESML_METRICS_ENDPOINT": "0.0.0.0:8081"}, "(from the environment: ESML_METRICS_ENDPOINT)"),
        (["--metrics-endpoint", "http://0.0.0.0:8080/metrics"], {}, "must not use the same port (8080)"),
        (["--external-metrics"], {}, "--external-metrics needs --external-metrics-cert-file"),
        (["--external-metrics-endpoint", "http://0.0.0.0:6443"], {}, "must start with https://"),
        (["--external-metrics-endpoint", ""], {}, "must start with https://"),
        (["--requestheader-client-ca-file", "/nonexistent/ca.crt"], {}, "no such file"),
        ([], {"ESML_REQUESTHEADER_ALLOWED_NAMES": "a,,b"}, "must not have empty items"),
    ],
)
def test_invalid_values_are_usage_errors(
    argv: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _error([*ALL, *argv], environ, capsys)


def test_external_metrics_with_its_files_and_ports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_text("cert")
    key.write_text("key")
    files = ["--external-metrics-cert-file", str(cert), "--external-metrics-key-file", str(key)]
    settings = Settings.load([*ALL, "--external-metrics", *files], {"ESML_REQUESTHEADER_ALLOWED_NAMES": "a,b"})
    assert settings.external_metrics and settings.requestheader_allowed_names == ("a", "b")
    clash = ["--external-metrics-endpoint", "https://0.0.0.0:8081"]
    assert "must not use the same port (8081)" in _error([*ALL, "--external-metrics", *files, *clash], {}, capsys)
    # Without --external-metrics its endpoint serves nothing, so it cannot clash.
    assert Settings.load([*ALL, *clash], {}).external_metrics_endpoint == "https://0.0.0.0:8081"
