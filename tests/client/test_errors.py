"""The classification table (status + error.type -> class) and error construction."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import httpx
import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.http_errors import (
    error_from_response,
    error_from_transport,
    parse_retry_after,
)
from esml_operator.elasticsearch.redaction import Redactor

from .fakes import es_error, es_json

NOW = datetime(2025, 1, 6, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "error_type", "cls", "temporary"),
    [
        (400, "action_request_validation_exception", e.BadRequestError, False),
        (400, "status_exception", e.BadRequestError, False),
        (400, "validation_exception", e.BadRequestError, False),
        (400, "illegal_argument_exception", e.BadRequestError, False),
        (400, "media_type_header_exception", e.BadRequestError, False),
        (401, "security_exception", e.AuthenticationError, False),
        (401, None, e.AuthenticationError, False),
        (403, "security_exception", e.AuthorizationError, False),
        (403, None, e.AuthorizationError, False),
        (403, "status_exception", e.ClusterNotReadyError, True),
        (404, "resource_not_found_exception", e.NotFoundError, False),
        (405, None, e.BadRequestError, False),
        (408, "model_deployment_timeout_exception", e.RequestTimeoutError, True),
        (408, "status_exception", e.RequestTimeoutError, True),
        (409, "status_exception", e.ConflictError, True),
        (413, None, e.BadRequestError, False),
        (429, "status_exception", e.TooManyRequestsError, True),
        (429, "es_rejected_execution_exception", e.TooManyRequestsError, True),
        (500, "status_exception", e.ServerError, True),
        (502, None, e.ServerError, True),
        (503, "cluster_block_exception", e.ServerError, True),
        (504, None, e.ServerError, True),
        (302, None, e.ApiError, True),
    ],
)
def test_api_error_class_table(status: int, error_type: str | None, cls: type[e.ApiError], temporary: bool) -> None:
    chosen = e.api_error_class(status, error_type)
    assert chosen is cls
    assert chosen.temporary is temporary
    assert issubclass(chosen, e.ApiError)


def test_api_error_class_status_only_is_backwards_compatible() -> None:
    assert e.api_error_class(429) is e.TooManyRequestsError
    assert e.api_error_class(403) is e.AuthorizationError


@pytest.mark.parametrize(
    ("cls", "temporary"),
    [
        (e.ConnectionFailedError, True),
        (e.TLSError, False),
        (e.TransportTimeoutError, True),
        (e.ProductCheckError, False),
        (e.UnsupportedVersionError, False),
        (e.MalformedResponseError, True),
        (e.ConnectionConfigError, False),
        (e.InsecureConnectionError, False),
    ],
)
def test_non_api_errors_temporary_flags(cls: type[e.ElasticsearchError], temporary: bool) -> None:
    assert cls.temporary is temporary
    assert issubclass(cls, e.ElasticsearchError)


def _from(response: httpx.Response, action: str = "_update of deployment [x]") -> e.ApiError:
    return error_from_response(response, action=action, redactor=Redactor(), now=NOW)


def test_nested_capacity_429_message_carries_caused_by() -> None:
    err = _from(
        es_error(
            429,
            "status_exception",
            "Could not start deployment because no ML nodes with sufficient capacity were found",
            caused_by={
                "type": "illegal_state_exception",
                "reason": "Could not start deployment because no suitable nodes were found, "
                "allocation explanation [insufficient memory]",
            },
        ),
        action="_start of model [my-model]",
    )
    assert isinstance(err, e.TooManyRequestsError)
    assert err.status == 429
    assert err.error_type == "status_exception"
    assert err.reason == "Could not start deployment because no ML nodes with sufficient capacity were found"
    assert str(err) == (
        "Elasticsearch rejected _start of model [my-model] (429 status_exception): Could not start "
        "deployment because no ML nodes with sufficient capacity were found (caused by "
        "illegal_state_exception: Could not start deployment because no suitable nodes were found, "
        "allocation explanation [insufficient memory])"
    )
    assert err.condition_reason == "status_exception"
    assert err.body is not None and err.body["status"] == 429


def test_update_429_message_format() -> None:
    reason = "Could not update deployment because there are not enough resources to provide all requested allocations"
    err = _from(es_error(429, "status_exception", reason))
    assert str(err) == f"Elasticsearch rejected _update of deployment [x] (429 status_exception): {reason}"
    assert err.retry_after is None


def test_server_error_says_failed() -> None:
    err = _from(
        es_error(
            500,
            "status_exception",
            "Could not start trained model deployment, the following nodes failed with errors [{n1=boom}]",
        ),
        action="_start of model [m]",
    )
    assert isinstance(err, e.ServerError)
    assert str(err).startswith("Elasticsearch failed _start of model [m] (500 status_exception): ")


def test_reason_falls_back_to_root_cause() -> None:
    body = {"error": {"root_cause": [{"type": "x_exception", "reason": "deep reason"}], "type": "x_exception"}}
    err = _from(es_json(400, body))
    assert err.reason == "deep reason"
    assert err.error_type == "x_exception"


def test_string_error_body() -> None:
    err = _from(es_json(405, {"error": "Incorrect HTTP method for uri [/x] and method [GET]", "status": 405}))
    assert isinstance(err, e.BadRequestError)
    assert err.error_type is None
    assert "Incorrect HTTP method" in str(err)
    assert err.condition_reason == "BadRequestError"


def test_non_json_proxy_body_gives_clear_error() -> None:
    html = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>"
    response = httpx.Response(502, content=html.encode(), headers={"Content-Type": "text/html"})
    err = _from(response)
    assert isinstance(err, e.ServerError)
    assert err.error_type is None
    assert err.status == 502
    assert err.reason == "502 Bad Gateway"
    msg = str(err)
    assert "Elasticsearch failed _update of deployment [x] (502 Bad Gateway)" in msg
    assert "text/html" in msg
    assert "proxy" in msg
    assert "<title>502 Bad Gateway</title>" in msg
    assert "\n" not in msg


def test_non_json_body_is_truncated() -> None:
    response = httpx.Response(503, content=b"x" * 5000, headers={"Content-Type": "text/plain"})
    err = _from(response)
    assert len(str(err)) < 600


def test_empty_error_body() -> None:
    err = _from(httpx.Response(401))
    assert isinstance(err, e.AuthenticationError)
    assert "401 Unauthorized" in str(err)


def test_json_body_that_is_not_an_es_error() -> None:
    err = _from(httpx.Response(503, json={"ok": False, "message": "upstream unavailable"}))
    assert isinstance(err, e.ServerError)
    assert "upstream unavailable" in str(err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Mon, 06 Jan 2025 12:00:30 GMT", 30.0),
        ("Mon, 06 Jan 2025 11:59:00 GMT", 0.0),
        ("-3", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("inf", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("Mon, 06 Jan 2025 12:01:00 GMT", 60.0)])
def test_retry_after_on_error(header: str, expected: float) -> None:
    err = _from(es_error(429, "status_exception", "Could not update deployment", headers={"Retry-After": header}))
    assert err.retry_after == expected


def test_retry_after_on_non_json_503() -> None:
    response = httpx.Response(503, text="busy", headers={"Retry-After": "11"})
    assert _from(response).retry_after == 11.0


# --------------------------------------------------------------------------- transport errors

URL = "https://es.example:9200"


def _transport(exc: httpx.HTTPError) -> e.ElasticsearchError:
    return error_from_transport(exc, action="_stats of all trained models", url=URL, redactor=Redactor())


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectTimeout("timed out"), "connect"),
        (httpx.ReadTimeout("timed out"), "read"),
        (httpx.WriteTimeout("timed out"), "write"),
        (httpx.PoolTimeout("timed out"), "connection pool"),
    ],
)
def test_timeouts(exc: httpx.HTTPError, kind: str) -> None:
    err = _transport(exc)
    assert type(err) is e.TransportTimeoutError
    assert err.temporary
    assert f"({kind} timeout)" in str(err)
    assert URL in str(err)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
)
def test_connection_failures(exc: httpx.HTTPError) -> None:
    err = _transport(exc)
    assert type(err) is e.ConnectionFailedError
    assert err.temporary
    assert "Could not reach Elasticsearch at https://es.example:9200 for _stats of all trained models" in str(err)


def _chained(ssl_exc: ssl.SSLError) -> httpx.ConnectError:
    try:
        try:
            raise ssl_exc
        except ssl.SSLError as inner:
            raise httpx.ConnectError(str(inner)) from inner
    except httpx.ConnectError as outer:
        return outer


def test_certificate_verification_failure_is_permanent_tls_error() -> None:
    cause = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
    )
    err = _transport(_chained(cause))
    assert type(err) is e.TLSError
    assert isinstance(err, e.ConnectionFailedError)
    assert not err.temporary
    assert "not trusted" in str(err)


def test_certificate_failure_detected_from_message_only() -> None:
    err = _transport(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"))
    assert type(err) is e.TLSError


def test_tls_eof_is_a_temporary_connection_failure() -> None:
    err = _transport(_chained(ssl.SSLEOFError(8, "EOF occurred in violation of protocol")))
    assert type(err) is e.ConnectionFailedError
    assert err.temporary


def test_tls_protocol_mismatch_is_tls_error() -> None:
    err = _transport(_chained(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")))
    assert type(err) is e.TLSError
