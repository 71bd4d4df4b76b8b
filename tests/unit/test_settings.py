"""Settings: flags over environment, one check per rule, usage errors that name the flag."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from esml_operator.settings import SettingError, Settings

ALL = ["--all-namespaces"]
# Internal field names a user never typed (those with an underscore; flags use '-').
FIELD_NAMES = [f.name for f in dataclasses.fields(Settings) if "_" in f.name]


def _usage_error(argv: list[str], environ: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:  # argparse's usage error, not a traceback
        Settings.load(argv, environ)
    assert info.value.code == 2
    text = capsys.readouterr().err
    assert text.startswith("usage: esml-operator run")
    assert "Traceback" not in text
    for name in FIELD_NAMES:
        assert name not in text, f"the message names the field {name!r} instead of its flag: {text}"
    return text.splitlines()[-1]


def test_flags_win_over_environment() -> None:
    settings = Settings.load(
        ["--namespace", "a", "--namespace", "b", "--resync-interval", "7"],
        {"ESML_RESYNC_INTERVAL": "99", "ESML_LOG_FORMAT": "json"},
    )
    assert settings.namespaces == ("a", "b")
    assert settings.resync_interval == 7.0
    assert settings.log_format == "json"


def test_environment_only() -> None:
    settings = Settings.load(
        [],
        {
            "ESML_ALL_NAMESPACES": "true",
            "ESML_ALLOW_PLAIN_HTTP_CREDENTIALS": "yes",
            "ESML_MAX_CONCURRENT_RECONCILES": "3",
            "ESML_LEADER_ELECTION": "off",
        },
    )
    assert settings.all_namespaces and settings.allow_plain_http_credentials
    assert settings.max_concurrent_reconciles == 3
    assert settings.allow_cross_namespace_refs is False
    assert settings.leader_election is False


def test_comma_separated_namespaces_from_environment() -> None:
    assert Settings.load([], {"ESML_NAMESPACES": "x, y ,z"}).namespaces == ("x", "y", "z")


def test_leader_election_is_on_by_default_and_has_a_no_flag() -> None:
    assert Settings.load(ALL, {}).leader_election is True
    assert Settings.load([*ALL, "--no-leader-election"], {"ESML_LEADER_ELECTION": "true"}).leader_election is False


def test_an_empty_variable_is_the_default_except_for_text() -> None:
    settings = Settings.load(
        ALL, {"ESML_RESYNC_INTERVAL": "", "ESML_LEADER_ELECTION": " ", "ESML_LIVENESS_ENDPOINT": ""}
    )
    assert settings.resync_interval == 30.0
    assert settings.leader_election is True
    assert settings.liveness_endpoint == ""  # disables the probe, as its help says


def test_settings_are_constructible_with_keywords_and_checked() -> None:
    assert Settings(all_namespaces=True, request_timeout=2).request_timeout == 2
    with pytest.raises(SettingError, match="--request-timeout must be a number > 0") as info:
        Settings(all_namespaces=True, request_timeout=0)
    assert info.value.fields == ("request_timeout",)


@pytest.mark.parametrize("level", ["DEBUG", "info", "Warning", "error", "CRITICAL"])
def test_log_levels_in_any_case(level: str) -> None:
    assert Settings.load([*ALL, "--log-level", level], {}).log_level == level


@pytest.mark.parametrize(
    "url", ["", "http://127.0.0.1:8080/healthz", "http://0.0.0.0:1/", "http://[::1]:9000/h", "http://probe:8080"]
)
def test_liveness_endpoints_accepted(url: str) -> None:
    assert Settings.load([*ALL, "--liveness-endpoint", url], {}).liveness_endpoint == url


@pytest.mark.parametrize("name", ["esml-operator", "a", "my.lease-1", "x" * 253])
def test_lease_names_accepted(name: str) -> None:
    assert Settings.load([*ALL, "--lease-name", name], {}).lease_name == name


def test_an_existing_kubeconfig_is_accepted(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\n")
    assert Settings.load([*ALL, "--kubeconfig", str(kubeconfig)], {}).kubeconfig == str(kubeconfig)


def test_eck_url_template_may_fix_the_host() -> None:
    settings = Settings.load([*ALL, "--eck-url-template", "https://localhost:{port}"], {})
    assert settings.eck_url_template.format(service="s", namespace="n", port=9243, name="q") == "https://localhost:9243"


TIMINGS = [
    "--connect-timeout",
    "--request-timeout",
    "--resync-interval",
    "--lease-duration",
    "--renew-deadline",
    "--retry-period",
    "--action-rate",
]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
@pytest.mark.parametrize("flag", TIMINGS)
def test_timings_must_be_positive_and_finite(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    message = _usage_error([*ALL, flag, value], {}, capsys)
    # an ordering rule may not fire first: each timing has its own message
    assert f"{flag} must be a number > 0, got {value}" in message


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_the_heartbeat_may_be_zero_but_not_negative(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert Settings.load([*ALL, "--status-heartbeat", "0"], {}).status_heartbeat == 0
    assert f"--status-heartbeat must be a number >= 0, got {value}" in _usage_error(
        [*ALL, "--status-heartbeat", value], {}, capsys
    )


@pytest.mark.parametrize("flag", ["--max-concurrent-reconciles", "--action-burst"])
@pytest.mark.parametrize("value", ["0", "-3"])
def test_counts_must_be_at_least_one(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert f"{flag} must be at least 1, got {value}" in _usage_error([*ALL, flag, value], {}, capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # scope
        ([], "choose --all-namespaces or at least one --namespace"),
        ([*ALL, "--namespace", "a"], "choose either --all-namespaces or --namespace, not both"),
        (["--namespace", ""], "--namespace must not be empty"),
        (["--namespace", "a", "--namespace", ""], "--namespace must not be empty (in 'a,')"),
        (["--namespace", "Team-A"], "--namespace 'Team-A' is not a valid Kubernetes name (a DNS-1123 label"),
        (["--namespace", "a_b"], "--namespace 'a_b' is not a valid Kubernetes name"),
        (["--namespace", "a.b"], "--namespace 'a.b' is not a valid Kubernetes name"),
        (["--namespace=-a"], "--namespace '-a' is not a valid Kubernetes name"),
        (["--namespace", "x" * 64], "is not a valid Kubernetes name (a DNS-1123 label: at most 63"),
        # polling
        ([*ALL, "--min-poll-interval", "-1"], "--min-poll-interval must be a number >= 0, got -1"),
        ([*ALL, "--min-poll-interval", "60"], "--min-poll-interval (60) must not exceed --resync-interval (30)"),
        # leader election
        ([*ALL, "--retry-period", "10"], "leader election needs --retry-period < --renew-deadline < --lease-duration"),
        ([*ALL, "--renew-deadline", "15"], "got 2, 15 and 15"),
        ([*ALL, "--lease-duration", "5"], "got 2, 10 and 5"),
        ([*ALL, "--lease-name", ""], "--lease-name must not be empty"),
        ([*ALL, "--lease-name", "Bad_Name"], "--lease-name 'Bad_Name' is not a valid Kubernetes name (a DNS-1123 sub"),
        ([*ALL, "--lease-name", "a..b"], "--lease-name 'a..b' is not a valid Kubernetes name"),
        ([*ALL, "--lease-name", "x" * 254], "is not a valid Kubernetes name (a DNS-1123 subdomain: at most 253"),
        ([*ALL, "--lease-namespace", "Kube"], "--lease-namespace 'Kube' is not a valid Kubernetes name"),
        # logging
        ([*ALL, "--log-level", "TRACE"], "--log-level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ([*ALL, "--log-level", "WARN"], "got 'WARN'"),
        ([*ALL, "--log-level", ""], "--log-level must be one of"),
        ([*ALL, "--log-format", "xml"], "--log-format must be plain or json, got 'xml'"),
        # endpoints and files
        ([*ALL, "--liveness-endpoint", "garbage"], "--liveness-endpoint 'garbage' must start with http://"),
        ([*ALL, "--liveness-endpoint", "https://0.0.0.0:8080/h"], "must start with http://"),
        ([*ALL, "--liveness-endpoint", "http://:8080/healthz"], "'http://:8080/healthz' has no host"),
        ([*ALL, "--liveness-endpoint", "http://probe/healthz"], "needs a port from 1 to 65535"),
        ([*ALL, "--liveness-endpoint", "http://probe:0/healthz"], "needs a port from 1 to 65535"),
        ([*ALL, "--liveness-endpoint", "http://probe:99999/"], "has an invalid port"),
        ([*ALL, "--kubeconfig", "/nonexistent/kubeconfig"], "--kubeconfig '/nonexistent/kubeconfig': no such file"),
        ([*ALL, "--eck-url-template", "https://x"], "--eck-url-template must contain {service} or {port}"),
        ([*ALL, "--eck-url-template", "https://{host}:{port}"], "known placeholders"),
        ([*ALL, "--eck-url-template", "{service}:{port}"], "must start with https:// or http:// once filled in"),
        ([*ALL, "--eck-url-template", "https://:{port}"], "has no host once filled in"),
    ],
)
def test_invalid_flags_are_usage_errors_naming_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_error(argv, {}, capsys)
    assert message in line
    assert "environment" not in line  # nothing came from there


def test_a_kubeconfig_must_be_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "is not a file" in _usage_error([*ALL, "--kubeconfig", str(tmp_path)], {}, capsys)


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        # parsing: the variable and the flag
        (
            ALL,
            {"ESML_REQUEST_TIMEOUT": "abc"},
            "ESML_REQUEST_TIMEOUT (--request-timeout): expected a number, got 'abc'",
        ),
        (ALL, {"ESML_ACTION_BURST": "1.5"}, "ESML_ACTION_BURST (--action-burst): expected a whole number, got '1.5'"),
        (
            ALL,
            {"ESML_ALLOW_PLAIN_HTTP_CREDENTIALS": "maybe"},
            "ESML_ALLOW_PLAIN_HTTP_CREDENTIALS (--allow-plain-http-credentials): expected true or false",
        ),
        # checks: the flag's rule, then the variable
        (
            ALL,
            {"ESML_REQUEST_TIMEOUT": "-1"},
            "--request-timeout must be a number > 0, got -1 (from the environment: ESML_REQUEST_TIMEOUT)",
        ),
        (ALL, {"ESML_LOG_LEVEL": "TRACE"}, "got 'TRACE' (from the environment: ESML_LOG_LEVEL)"),
        (ALL, {"ESML_LOG_LEVEL": ""}, "got '' (from the environment: ESML_LOG_LEVEL)"),
        (ALL, {"ESML_KUBECONFIG": "/nonexistent"}, "no such file (from the environment: ESML_KUBECONFIG)"),
        (
            [],
            {"ESML_NAMESPACES": "a,,b"},
            "--namespace must not be empty (in 'a,,b') (from the environment: ESML_NAMES",
        ),
        (
            [],
            {"ESML_NAMESPACES": "a,"},
            "--namespace must not be empty (in 'a,') (from the environment: ESML_NAMESPACES)",
        ),
        (
            ["--namespace", "a"],
            {"ESML_ALL_NAMESPACES": "true"},
            "not both (from the environment: ESML_ALL_NAMESPACES)",
        ),
        (
            [*ALL, "--renew-deadline", "40"],
            {"ESML_RETRY_PERIOD": "1", "ESML_LEASE_DURATION": "30", "ESML_IDENTITY": "x"},
            "got 1, 40 and 30 (from the environment: ESML_RETRY_PERIOD, ESML_LEASE_DURATION)",
        ),
    ],
)
def test_environment_errors_name_the_variable_and_the_flag(
    argv: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _usage_error(argv, environ, capsys)


def test_a_flag_error_does_not_blame_a_valid_variable(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error([*ALL, "--request-timeout", "0"], {"ESML_REQUEST_TIMEOUT": "5"}, capsys)
    assert line.endswith("--request-timeout must be a number > 0, got 0")


def test_every_setting_but_switches_and_identity_has_a_check() -> None:
    unchecked = {f.name for f in dataclasses.fields(Settings) if f.metadata["check"] is None}
    switches = {f.name for f in dataclasses.fields(Settings) if isinstance(f.default, bool)}
    assert unchecked - switches == {"identity"}  # a Lease's holderIdentity is free text


def test_describe_lists_every_setting_with_flag_and_env() -> None:
    rows = {row[1]: row for row in Settings.describe()}
    assert rows["ESML_RESYNC_INTERVAL"][0] == "--resync-interval"
    assert rows["ESML_NAMESPACES"][0] == "--namespace"
    assert rows["ESML_RESYNC_INTERVAL"][2] == "30.0"
    assert len(rows) == len(dataclasses.fields(Settings))
