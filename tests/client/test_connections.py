from __future__ import annotations

import asyncio
import base64
import ssl

import httpx
import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.connections import (
    ApiKeyAuth,
    BasicAuth,
    ConnectionConfig,
    ConnectionPool,
    Timeouts,
    build_ssl_context,
)
from esml_operator.elasticsearch.models import EsVersion

from .fakes import FakeES, es_error, es_json, info_body

# A throw-away self-signed CA (EC P-256, CN=esml-test-ca); never used to sign anything real.
CA_PEM = b"""-----BEGIN CERTIFICATE-----
MIIBhDCCASugAwIBAgIUM0xL4H1s4sQHYXp64IQsjLb4BJwwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMZXNtbC10ZXN0LWNhMCAXDTI2MTEyNTExMDAzMloYDzIxMjYx
MTAxMTEwMDMyWjAXMRUwEwYDVQQDDAxlc21sLXRlc3QtY2EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAATwiAL+e00JaFnXHsKKizZNxJdfxLUNRO3glAsMGVucYV+D
2YaPufQp2FRk2douQvq8Ny5PhlUYVcQDrK/H4W3Ho1MwUTAdBgNVHQ4EFgQU9XO5
LMU8oslrGNK1g80oMscCYaswHwYDVR0jBBgwFoAU9XO5LMU8oslrGNK1g80oMscC
YaswDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBdGS/zAocNwPC9
G3ecujWD0IPIWK1MtnN/CPkjmk322QIgdHeOf4MJobHiae1Ezrb0MCFhl4CewD+u
9aX+7XnZcZs=
-----END CERTIFICATE-----
"""
URL = "https://quickstart-es-http.default.svc:9200"
PASSWORD = "hunter2-rotating-Secret"


def config(password: str = PASSWORD, **kwargs: object) -> ConnectionConfig:
    return ConnectionConfig(url=URL, auth=BasicAuth("elastic", password), ca_pem=CA_PEM, **kwargs)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cluster(fake: FakeES) -> FakeES:
    fake.route("GET", "/", es_json(200, info_body("8.16.1")))
    return fake


# ----------------------------------------------------------------- ConnectionConfig


def test_key_is_stable_and_secret_free() -> None:
    a, b = config(), config()
    assert a.key == b.key
    assert a.key.startswith(URL + "#")
    token = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
    assert PASSWORD not in a.key and token not in a.key


@pytest.mark.parametrize(
    "other",
    [
        ConnectionConfig(url=URL, auth=BasicAuth("elastic", "new-password"), ca_pem=CA_PEM),
        ConnectionConfig(url=URL, auth=BasicAuth("admin", PASSWORD), ca_pem=CA_PEM),
        ConnectionConfig(url=URL, auth=ApiKeyAuth("abc:def"), ca_pem=CA_PEM),
        ConnectionConfig(url=URL, auth=BasicAuth("elastic", PASSWORD), ca_pem=CA_PEM + b"\n"),
        ConnectionConfig(url=URL, auth=BasicAuth("elastic", PASSWORD)),
        ConnectionConfig(url=URL + "0", auth=BasicAuth("elastic", PASSWORD), ca_pem=CA_PEM),
        ConnectionConfig(url=URL, auth=BasicAuth("elastic", PASSWORD), ca_pem=CA_PEM, insecure_skip_tls_verify=True),
        ConnectionConfig(url=URL, auth=BasicAuth("elastic", PASSWORD), ca_pem=CA_PEM, timeouts=Timeouts(read=60)),
    ],
)
def test_key_changes_with_identity(other: ConnectionConfig) -> None:
    assert other.key != config().key


def test_trailing_slash_is_the_same_endpoint() -> None:
    assert ConnectionConfig(url=URL + "/").key == ConnectionConfig(url=URL).key


def test_repr_hides_secrets() -> None:
    cfg = config()
    for text in (repr(cfg), str(cfg), repr(cfg.auth)):
        assert PASSWORD not in text
        assert "[REDACTED]" in text
    assert "elastic" in repr(cfg)
    assert f"<{len(CA_PEM)} bytes>" in repr(cfg)
    api = ConnectionConfig(url=URL, auth=ApiKeyAuth("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="))
    assert "VnVhQ2ZH" not in repr(api)


def test_api_key_forms() -> None:
    encoded = base64.b64encode(b"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").decode()
    assert ApiKeyAuth("VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw").header == f"ApiKey {encoded}"
    assert ApiKeyAuth(encoded).header == f"ApiKey {encoded}"
    assert ApiKeyAuth(f"  {encoded}\n").header == f"ApiKey {encoded}"
    secrets = ApiKeyAuth(encoded).secrets()
    assert encoded in secrets
    assert "ui2lp2axTNmsyakw9tvNnw" in secrets
    assert "VuaCfGcBCdbkQm-e5aOx" not in secrets  # the id is not a secret (ES prints it in 403s)


def test_basic_auth_header() -> None:
    token = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
    assert BasicAuth("elastic", PASSWORD).header == f"Basic {token}"
    assert set(BasicAuth("elastic", PASSWORD).secrets()) == {PASSWORD, token}


def test_plain_http_with_credentials_is_refused() -> None:
    cfg = ConnectionConfig(url="http://es.example:9200", auth=BasicAuth("elastic", PASSWORD))
    with pytest.raises(e.InsecureConnectionError) as caught:
        cfg.validate()
    assert not caught.value.temporary
    assert "plain http://" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_plain_http_allowed_explicitly_or_without_credentials() -> None:
    ConnectionConfig(url="http://es.example:9200", auth=ApiKeyAuth("a:b"), allow_plain_http_credentials=True).validate()
    ConnectionConfig(url="http://es.example:9200").validate()


@pytest.mark.parametrize(
    "url",
    [f"https://elastic:{PASSWORD}@es.example:9200", "ftp://es.example", "es.example:9200", "https://es/?x=1"],
)
def test_invalid_urls(url: str) -> None:
    with pytest.raises(e.ConnectionConfigError) as caught:
        ConnectionConfig(url=url).validate()
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in ConnectionConfig(url=url).key
    assert PASSWORD not in repr(ConnectionConfig(url=url))


# ----------------------------------------------------------------- TLS


def test_ssl_context_from_ca() -> None:
    ctx = build_ssl_context(config())
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    subjects = [c["subject"] for c in ctx.get_ca_certs()]
    assert subjects == [((("commonName", "esml-test-ca"),),)]
    assert not ctx.verify_flags & ssl.VERIFY_X509_STRICT


def test_ssl_context_default_trust() -> None:
    ctx = build_ssl_context(ConnectionConfig(url=URL))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert len(ctx.get_ca_certs()) > 10  # certifi bundle


def test_ssl_context_insecure() -> None:
    ctx = build_ssl_context(config(insecure_skip_tls_verify=True))
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.check_hostname is False


@pytest.mark.parametrize("pem", [b"not a certificate", b"\xff\xfe"])
def test_ssl_context_bad_ca(pem: bytes) -> None:
    with pytest.raises(e.ConnectionConfigError, match="CA certificate"):
        build_ssl_context(ConnectionConfig(url=URL, ca_pem=pem))


async def test_pool_builds_real_transport_with_tls() -> None:
    pool = ConnectionPool()
    client = pool.client(config())
    assert client.base_url == URL
    bad = ConnectionConfig(url=URL + "1", ca_pem=b"garbage")
    with pytest.raises(e.ConnectionConfigError):
        pool.client(bad)
    await pool.aclose()
    assert client.is_closed


# ----------------------------------------------------------------- pool


def make_pool(fake: FakeES, **kwargs: object) -> ConnectionPool:
    return ConnectionPool(transport_factory=lambda _cfg: fake.transport(), **kwargs)  # type: ignore[arg-type]


async def test_pool_sends_auth_and_user_agent(cluster: FakeES) -> None:
    pool = make_pool(cluster)
    _, info = await pool.connect(config())
    assert info.version == EsVersion(8, 16, 1)
    request = cluster.last
    assert request.headers["authorization"] == BasicAuth("elastic", PASSWORD).header
    assert request.headers["user-agent"].startswith("esml-operator/")
    assert str(request.url) == URL + "/"
    await pool.aclose()


async def test_pool_api_key_header(cluster: FakeES) -> None:
    pool = make_pool(cluster)
    await pool.connect(ConnectionConfig(url=URL, auth=ApiKeyAuth("id1:key1")))
    assert cluster.last.headers["authorization"] == "ApiKey " + base64.b64encode(b"id1:key1").decode()
    await pool.aclose()


async def test_pool_path_prefix_is_kept(fake: FakeES) -> None:
    fake.route("GET", "/es/", es_json(200, info_body()))
    fake.route("POST", "/es/_ml/trained_models/m/deployment/_stop", es_json(200, {"stopped": True}))
    pool = make_pool(fake)
    client, _ = await pool.connect(ConnectionConfig(url="https://proxy.example/es/"))
    await client.stop_deployment("m")
    await pool.aclose()


async def test_pool_reuses_one_client_per_key(cluster: FakeES) -> None:
    pool = make_pool(cluster)
    a = await pool.acquire(config(), owner="uid-a")
    b = await pool.acquire(config(), owner="uid-b")
    assert a is b
    assert pool.keys == {config().key}
    other = await pool.acquire(config("other"), owner="uid-c")
    assert other is not a
    assert len(pool.keys) == 2
    await pool.aclose()


async def test_pool_refuses_plain_http_credentials(cluster: FakeES) -> None:
    pool = make_pool(cluster)
    with pytest.raises(e.InsecureConnectionError):
        await pool.connect(ConnectionConfig(url="http://es:9200", auth=BasicAuth("elastic", PASSWORD)))
    assert cluster.requests == []
    assert pool.keys == frozenset()
    await pool.aclose()


async def test_rotation_closes_the_old_client_once_unused(cluster: FakeES) -> None:
    pool = make_pool(cluster)
    old_a = await pool.acquire(config("v1"), owner="a")
    await pool.acquire(config("v1"), owner="b")
    new = await pool.acquire(config("v2"), owner="a")
    assert not old_a.is_closed  # "b" still uses it
    await pool.acquire(config("v2"), owner="b")
    assert old_a.is_closed
    assert pool.keys == {config("v2").key}
    assert not new.is_closed
    await pool.release("a")
    assert not new.is_closed
    await pool.release("b")
    assert new.is_closed
    assert pool.keys == frozenset()
    await pool.release("unknown")  # no-op
    await pool.aclose()


async def test_a_closed_pool_refuses_new_clients(cluster: FakeES) -> None:
    pool = make_pool(cluster)
    keep = await pool.acquire(config("keep"), owner="x")
    await pool.aclose()
    assert keep.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        pool.client(config())


async def test_connect_caches_cluster_info(cluster: FakeES) -> None:
    clock = Clock()
    pool = make_pool(cluster, info_max_age=300.0, clock=clock)
    cfg = config()
    await pool.connect(cfg)
    await pool.connect(cfg)
    assert len(cluster.requests) == 1
    _, info = await pool.connect(cfg, refresh=True)
    assert info.version == EsVersion(8, 16, 1)
    assert len(cluster.requests) == 2
    clock.now += 299
    await pool.connect(cfg)
    assert len(cluster.requests) == 2
    clock.now += 1
    cluster.route("GET", "/", es_json(200, info_body("9.0.0")))
    _, info = await pool.connect(cfg)
    assert len(cluster.requests) == 3
    assert info.version == EsVersion(9, 0, 0)
    pool.invalidate(cfg.key)
    await pool.connect(cfg)
    assert len(cluster.requests) == 4
    await pool.aclose()


async def test_expire_info_reads_get_root_again_for_that_client_only(cluster: FakeES) -> None:
    pool = make_pool(cluster)
    mine, other = config(), config("other")
    client, _ = await pool.connect(mine)
    await pool.connect(other)
    assert len(cluster.requests) == 2
    pool.expire_info(client)
    await pool.connect(other)
    assert len(cluster.requests) == 2  # the other cluster's answer stands
    cluster.route("GET", "/", es_json(200, info_body("9.0.0")))
    _, info = await pool.connect(mine)
    assert len(cluster.requests) == 3 and info.version == EsVersion(9, 0, 0)
    await pool.connect(mine)
    assert len(cluster.requests) == 3
    await pool.aclose()


async def test_get_root_is_kept_for_an_hour_by_default(cluster: FakeES) -> None:
    clock = Clock()
    pool = make_pool(cluster, clock=clock)
    await pool.connect(config())
    clock.now += 3599
    await pool.connect(config())
    assert len(cluster.requests) == 1
    clock.now += 1
    await pool.connect(config())
    assert len(cluster.requests) == 2
    await pool.aclose()


async def test_concurrent_connects_read_info_once(cluster: FakeES) -> None:
    pool = make_pool(cluster)
    results = await asyncio.gather(*(pool.connect(config()) for _ in range(5)))
    assert len({id(c) for c, _ in results}) == 1
    assert len(cluster.requests) == 1
    await pool.aclose()


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def test_concurrent_connects_to_a_dead_endpoint_cost_one_attempt(fake: FakeES) -> None:
    fake.route("GET", "/", _refuse)
    pool = make_pool(fake)
    results = await asyncio.gather(*(pool.connect(config()) for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, e.ConnectionFailedError) for r in results)
    assert len(fake.requests) == 1
    await pool.aclose()


async def test_a_failed_connect_is_remembered_for_a_doubling_back_off(fake: FakeES) -> None:
    clock = Clock()
    clock.now = 0.0
    fake.route("GET", "/", _refuse)
    pool = make_pool(fake, clock=clock, connect_backoff=1.0, connect_backoff_cap=4.0)
    attempts = []
    for _ in range(12):  # 12 half-second steps: attempts at 0, 1, 3 (back-off 1 s, then 2 s, then 4 s)
        before = len(fake.requests)
        with pytest.raises(e.ConnectionFailedError):
            await pool.connect(config())
        if len(fake.requests) > before:
            attempts.append(clock.now)
        clock.now += 0.5
    assert attempts == [0.0, 1.0, 3.0]
    fake.route("GET", "/", es_json(200, info_body()))
    clock.now = 7.0
    _, info = await pool.connect(config())
    assert info.version == EsVersion(8, 15, 0)
    await pool.aclose()


async def test_invalidate_forgets_a_remembered_failure(fake: FakeES) -> None:
    fake.route(
        "GET",
        "/",
        [
            es_error(401, "security_exception", "unable to authenticate user [elastic] for REST request [/]"),
            es_json(200, info_body()),
        ],
    )
    pool = make_pool(fake)
    with pytest.raises(e.AuthenticationError):
        await pool.connect(config())
    with pytest.raises(e.AuthenticationError):
        await pool.connect(config())  # remembered: no second request
    assert len(fake.requests) == 1
    pool.invalidate(config().key)  # the operator does this after re-reading the credentials
    _, info = await pool.connect(config())
    assert info.version == EsVersion(8, 15, 0)
    await pool.aclose()


async def test_connect_product_check(fake: FakeES) -> None:
    fake.route("GET", "/", httpx.Response(200, json=info_body()))
    pool = make_pool(fake)
    with pytest.raises(e.ProductCheckError):
        await pool.connect(config())
    await pool.aclose()


async def test_closing_does_not_wait_for_a_hung_connect(fake: FakeES) -> None:
    hung, asked = asyncio.Event(), asyncio.Event()

    async def never(request: httpx.Request) -> httpx.Response:
        asked.set()
        await hung.wait()
        raise AssertionError("unreachable")

    pool = ConnectionPool(transport_factory=lambda _cfg: httpx.MockTransport(never))
    waiter = asyncio.create_task(pool.connect(config()))
    await asyncio.wait_for(asked.wait(), timeout=1.0)
    waiter.cancel()  # the pass that asked is cancelled at shutdown ...
    await asyncio.wait_for(pool.aclose(), timeout=1.0)  # ... and closing returns at once, without an error
    assert not pool._connecting
