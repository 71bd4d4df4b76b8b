"""Secrets never appear in errors, reprs, keys or logs."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable

import httpx
import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.connections import ApiKeyAuth, BasicAuth, ConnectionConfig, ConnectionPool
from esml_operator.elasticsearch.models import EsVersion
from esml_operator.elasticsearch.redaction import Redactor

from .fakes import FakeES, es_error, es_json, info_body

URL = "https://es.example:9200"
PASSWORD = "Tr0ub4dor&3-horse"
API_ID, API_SECRET = "VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"
API_ENCODED = base64.b64encode(f"{API_ID}:{API_SECRET}".encode()).decode()
BASIC_TOKEN = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, BASIC_TOKEN, API_SECRET, API_ENCODED)


def assert_clean(text: str, secrets: tuple[str, ...] = SECRETS) -> None:
    for secret in secrets:
        assert secret not in text, f"secret leaked: {text!r}"


def test_redactor_replaces_secrets_and_userinfo() -> None:
    r = Redactor([PASSWORD, "", "short"])
    assert r.text(f"pw={PASSWORD} in short") == "pw=[REDACTED] in [REDACTED]"
    assert r.text("see https://bob:pa55@es:9200/x and http://tok@h") == (
        "see https://[REDACTED]@es:9200/x and http://[REDACTED]@h"
    )
    assert r.text("mail bob@example.com") == "mail bob@example.com"
    assert r.value({"a": [PASSWORD, 1, {"b": f"x{PASSWORD}"}]}) == {"a": ["[REDACTED]", 1, {"b": "x[REDACTED]"}]}
    assert PASSWORD not in repr(r)


def test_longer_secret_wins() -> None:
    r = Redactor([API_SECRET, f"{API_ID}:{API_SECRET}"])
    assert r.text(f"{API_ID}:{API_SECRET}") == "[REDACTED]"


ECHO = (
    "<html><body><h1>400 Bad Request</h1><pre>Authorization: Basic {basic}\n"
    "X-Api: ApiKey {api}\nkey {secret} pw {pw}</pre></body></html>"
)


def echo_proxy(request: httpx.Request) -> httpx.Response:
    """A misbehaving proxy that echoes credentials back in its error page."""
    text = ECHO.format(basic=BASIC_TOKEN, api=API_ENCODED, secret=API_SECRET, pw=PASSWORD)
    return httpx.Response(400, text=text, headers={"Content-Type": "text/html"})


def echo_es(request: httpx.Request) -> httpx.Response:
    reason = (
        f"unable to authenticate user [elastic:{PASSWORD}] with token [{API_ENCODED}] at https://elastic:{PASSWORD}@es"
    )
    return es_error(401, "security_exception", reason, caused_by={"type": "x", "reason": API_SECRET})


def failing_connect(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"cannot connect to https://elastic:{PASSWORD}@es.example:9200 ({API_SECRET})")


AUTHS = [
    (BasicAuth("elastic", PASSWORD), (PASSWORD, BASIC_TOKEN)),
    (ApiKeyAuth(f"{API_ID}:{API_SECRET}"), (API_SECRET, API_ENCODED)),
    (ApiKeyAuth(API_ENCODED), (API_SECRET, API_ENCODED)),
]


@pytest.mark.parametrize(("auth", "secrets"), AUTHS, ids=["basic", "api-key-id-key", "api-key-encoded"])
@pytest.mark.parametrize("answer", [echo_proxy, echo_es, failing_connect])
async def test_errors_and_logs_never_carry_secrets(
    caplog: pytest.LogCaptureFixture, auth: BasicAuth | ApiKeyAuth, secrets: tuple[str, ...], answer: object
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeES()
    fake.route("GET", "/", es_json(200, info_body("9.0.0")))
    for method, path in [
        ("POST", "/_ml/trained_models/m/deployment/_start"),
        ("POST", "/_ml/trained_models/m/deployment/_update"),
        ("POST", "/_ml/trained_models/m/deployment/_stop"),
        ("GET", "/_ml/trained_models/_all/_stats"),
    ]:
        fake.route(method, path, answer)  # type: ignore[arg-type]
    pool = ConnectionPool(transport_factory=lambda _c: fake.transport())
    cfg = ConnectionConfig(url=URL, auth=auth)
    client, _ = await pool.connect(cfg, owner="uid")
    v9 = EsVersion(9, 0, 0)
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.start_deployment("m", version=v9),
        lambda: client.update_deployment("m", version=v9, number_of_allocations=2),
        lambda: client.stop_deployment("m"),
        lambda: client.stats_snapshot(),
    ]
    for call in calls:
        with pytest.raises(e.ElasticsearchError) as caught:
            await call()
        err = caught.value
        for text in (str(err), repr(err), err.message, err.reason, repr(err.body), repr(err.args)):
            assert_clean(text, secrets)
        assert "[REDACTED]" in str(err)
    assert_clean(repr(cfg), secrets)
    assert_clean(cfg.key, secrets)
    assert_clean(repr(client), secrets)
    await pool.release("uid")
    await pool.aclose()
    assert caplog.records, "expected debug logs"
    assert_clean(caplog.text, secrets)
    for record in caplog.records:
        assert_clean(record.getMessage(), secrets)


async def test_unsupported_version_message_is_redacted() -> None:
    fake = FakeES()
    http = httpx.AsyncClient(base_url=URL, transport=fake.transport())
    from esml_operator.elasticsearch.client import ElasticsearchClient

    client = ElasticsearchClient(http, redact=[PASSWORD])
    with pytest.raises(e.UnsupportedVersionError) as caught:
        await client.start_deployment(f"m-{PASSWORD}", version=EsVersion(8, 5), priority="low")
    assert PASSWORD not in str(caught.value)
    await client.aclose()


async def test_base_url_userinfo_is_redacted() -> None:
    fake = FakeES()
    fake.route("GET", "/", failing_connect)
    from esml_operator.elasticsearch.client import ElasticsearchClient

    http = httpx.AsyncClient(base_url=f"https://elastic:{PASSWORD}@es.example:9200", transport=fake.transport())
    client = ElasticsearchClient(http)
    assert PASSWORD not in client.base_url
    with pytest.raises(e.ConnectionFailedError) as caught:
        await client.info()
    assert PASSWORD not in str(caught.value)
    await client.aclose()
