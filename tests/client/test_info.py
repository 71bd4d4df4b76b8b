from __future__ import annotations

import httpx
import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.models import ClusterInfo, EsVersion

from .fakes import FakeES, es_error, es_json, info_body


async def test_info_parses_cluster_info(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/", es_json(200, info_body("8.15.3")))
    info = await es.info()
    assert info == ClusterInfo(
        version=EsVersion(8, 15, 3),
        cluster_name="quickstart",
        cluster_uuid="S0zKQ2m4QyCvnqkz5mQf3A",
        build_flavor="default",
    )


async def test_info_snapshot_and_serverless_versions(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/", es_json(200, info_body("9.1.0-SNAPSHOT", flavor="serverless")))
    info = await es.info()
    assert info.version == EsVersion(9, 1, 0)
    assert info.build_flavor == "serverless"


async def test_every_request_sends_plain_json_media_types(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/", es_json(200, info_body()))
    await es.info()
    request = fake.last
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert "compatible-with" not in request.headers["accept"]


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json=info_body()),
        httpx.Response(200, json=info_body(), headers={"X-Elastic-Product": "OpenSearch"}),
        httpx.Response(200, text="<html>It works!</html>", headers={"Content-Type": "text/html"}),
    ],
)
async def test_product_check_rejects_other_servers(
    fake: FakeES, es: ElasticsearchClient, response: httpx.Response
) -> None:
    fake.route("GET", "/", response)
    with pytest.raises(e.ProductCheckError) as caught:
        await es.info()
    assert not caught.value.temporary
    assert "X-Elastic-Product: Elasticsearch" in str(caught.value)
    assert "https://quickstart-es-http.default.svc:9200" in str(caught.value)


async def test_401_without_product_header_is_an_auth_error(fake: FakeES, es: ElasticsearchClient) -> None:
    body = {
        "error": {
            "root_cause": [
                {
                    "type": "security_exception",
                    "reason": "unable to authenticate user [elastic] for REST request [/]",
                    "header": {"WWW-Authenticate": ['Basic realm="security", charset="UTF-8"', "ApiKey"]},
                }
            ],
            "type": "security_exception",
            "reason": "unable to authenticate user [elastic] for REST request [/]",
            "header": {"WWW-Authenticate": ['Basic realm="security", charset="UTF-8"', "ApiKey"]},
        },
        "status": 401,
    }
    fake.route("GET", "/", httpx.Response(401, json=body, headers={"WWW-Authenticate": 'Basic realm="security"'}))
    with pytest.raises(e.AuthenticationError) as caught:
        await es.info()
    assert caught.value.status == 401
    assert caught.value.error_type == "security_exception"
    assert "unable to authenticate user [elastic]" in str(caught.value)


async def test_403_without_product_header_is_an_authorization_error(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/", httpx.Response(403, json={"error": {"type": "security_exception", "reason": "nope"}}))
    with pytest.raises(e.AuthorizationError):
        await es.info()


async def test_info_server_error(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/", es_error(503, "master_not_discovered_exception", "no master"))
    with pytest.raises(e.ServerError):
        await es.info()


async def test_info_malformed_body(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/", es_json(200, {"name": "x", "version": {"number": "eight"}}))
    with pytest.raises(e.MalformedResponseError) as caught:
        await es.info()
    assert "GET / (cluster info)" in str(caught.value)


async def test_info_non_json_2xx_with_product_header(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", "/", httpx.Response(200, text="nope", headers={"X-Elastic-Product": "Elasticsearch"}))
    with pytest.raises(e.MalformedResponseError) as caught:
        await es.info()
    assert caught.value.__cause__ is not None


async def test_connection_refused_is_chained(fake: FakeES, es: ElasticsearchClient) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    fake.route("GET", "/", refuse)
    with pytest.raises(e.ConnectionFailedError) as caught:
        await es.info()
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert caught.value.temporary


async def test_read_timeout_is_chained(fake: FakeES, es: ElasticsearchClient) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake.route("GET", "/", slow)
    with pytest.raises(e.TransportTimeoutError) as caught:
        await es.info()
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
