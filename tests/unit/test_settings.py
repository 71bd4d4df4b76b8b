"""Settings: flags over environment, validation, documentation rows."""

from __future__ import annotations

import pytest

from esml_operator.settings import Settings


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
        },
    )
    assert settings.all_namespaces and settings.allow_plain_http_credentials
    assert settings.max_concurrent_reconciles == 3
    assert settings.allow_cross_namespace_refs is False


def test_comma_separated_namespaces_from_environment() -> None:
    assert Settings.load([], {"ESML_NAMESPACES": "x, y,,z"}).namespaces == ("x", "y", "z")


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        ([], {}, "choose --all-namespaces or at least one --namespace"),
        (["--all-namespaces", "--namespace", "a"], {}, "not both"),
        (["--all-namespaces", "--resync-interval", "0"], {}, "resync_interval must be > 0"),
        (["--all-namespaces", "--min-poll-interval", "60"], {}, "must not exceed resync_interval"),
        (["--all-namespaces", "--eck-url-template", "https://x"], {}, "must contain {service} or {port}"),
        (["--all-namespaces", "--eck-url-template", "https://{host}:{port}"], {}, "known placeholders"),
        (["--all-namespaces", "--eck-url-template", "{service}:{port}"], {}, "must start with https://"),
        (["--all-namespaces"], {"ESML_ALLOW_PLAIN_HTTP_CREDENTIALS": "maybe"}, "expected true or false"),
    ],
)
def test_invalid_settings_are_refused_with_a_clear_message(
    argv: list[str], environ: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:  # argparse's clean usage error, not a traceback
        Settings.load(argv, environ)
    assert info.value.code == 2
    text = capsys.readouterr().err
    assert message in text


def test_eck_url_template_may_fix_the_host() -> None:
    settings = Settings.load(["--all-namespaces", "--eck-url-template", "https://localhost:{port}"], {})
    assert settings.eck_url_template.format(service="s", namespace="n", port=9243, name="q") == "https://localhost:9243"


def test_describe_lists_every_setting_with_flag_and_env() -> None:
    rows = {row[1]: row for row in Settings.describe()}
    assert rows["ESML_RESYNC_INTERVAL"][0] == "--resync-interval"
    assert rows["ESML_NAMESPACES"][0] == "--namespace"
    assert rows["ESML_RESYNC_INTERVAL"][2] == "30.0"
    assert len(rows) == len(Settings.__dataclass_fields__)
