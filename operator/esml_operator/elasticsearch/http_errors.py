"""Turn httpx responses and exceptions into :mod:`errors` values (redacted)."""

from __future__ import annotations

import email.utils
import json
import math
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from esml_operator.elasticsearch.errors import (
    ApiError,
    ConnectionFailedError,
    ElasticsearchError,
    TLSError,
    TransportTimeoutError,
    api_error_class,
)
from esml_operator.elasticsearch.redaction import Redactor

_SNIPPET = 200
#: Appended to a 403 for a missing privilege: what the operator's credentials need (docs/architecture.md).
PRIVILEGES_HINT = (
    "the operator's credentials need the cluster privileges manage_ml (start, update, stop, stats) "
    "and monitor (GET / for the cluster version, and the list of inference endpoints), plus "
    "manage_inference for deployments that inference endpoints created (ELSER, E5) on Elasticsearch 9.2+"
)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After``: delta-seconds or an HTTP-date -> seconds from ``now`` (never negative)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def _error_object(body: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(type, reason, caused_by type, caused_by reason) from an ES error envelope (§6.1)."""
    if not isinstance(body, Mapping):
        return None, None, None, None
    error = body.get("error")
    if isinstance(error, str):  # some REST-layer errors: {"error": "...", "status": 405}
        return None, error, None, None
    if not isinstance(error, Mapping):
        return None, None, None, None
    etype = error.get("type") if isinstance(error.get("type"), str) else None
    reason = error.get("reason") if isinstance(error.get("reason"), str) else None
    if reason is None:
        roots = error.get("root_cause")
        if isinstance(roots, list) and roots and isinstance(roots[0], Mapping):
            root_reason = roots[0].get("reason")
            reason = root_reason if isinstance(root_reason, str) else None
    cause = error.get("caused_by")
    c_type = c_reason = None
    if isinstance(cause, Mapping):
        c_type = cause.get("type") if isinstance(cause.get("type"), str) else None
        c_reason = cause.get("reason") if isinstance(cause.get("reason"), str) else None
    return etype, reason, c_type, c_reason


def _snippet(text: str) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= _SNIPPET else collapsed[: _SNIPPET - 3] + "..."


def error_from_response(
    response: httpx.Response, *, action: str, redactor: Redactor, now: datetime | None = None
) -> ApiError:
    """The :class:`ApiError` for a non-2xx answer; never raises on odd bodies."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"), now=now)
    verb = "failed" if status >= 500 else "rejected"
    try:
        body: Any = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        body = None
    etype, reason, c_type, c_reason = _error_object(body)
    if reason is not None:
        label = f"{status} {etype}" if etype else str(status)
        message = f"Elasticsearch {verb} {action} ({label}): {reason}"
        if c_reason:
            message += f" (caused by {c_type or 'error'}: {c_reason})"
        if status == 403 and etype == "security_exception" and "is unauthorized" in reason:
            message += f"; {PRIVILEGES_HINT}"
    else:
        content_type = response.headers.get("content-type", "no content type").split(";")[0].strip()
        text = _snippet(response.content.decode("utf-8", errors="replace")) if response.content else ""
        phrase = response.reason_phrase or "HTTP error"
        message = (
            f"Elasticsearch {verb} {action} ({status} {phrase}) without an Elasticsearch error body "
            f"({content_type}); a proxy or load balancer may have answered"
        )
        if status in (301, 302, 303, 307, 308) and "location" in response.headers:
            message += f"; redirect to {response.headers['location']}"
        if text:
            message += f": {text}"
        reason = f"{status} {phrase}"
    cls = api_error_class(status, etype)
    return cls(
        redactor.text(message),
        status=status,
        error_type=etype,
        reason=redactor.text(reason),
        retry_after=retry_after,
        body=redactor.value(body) if isinstance(body, Mapping) else None,
    )


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


# TLS failures that say "the other side went away", not "the configuration is wrong".
_TRANSIENT_SSL = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def error_from_transport(
    exc: httpx.HTTPError | httpx.InvalidURL, *, action: str, url: str, redactor: Redactor
) -> ElasticsearchError:
    """The error for a request that got no HTTP answer. The caller raises it ``from exc``."""
    detail = str(exc) or type(exc).__name__
    where = f"Elasticsearch at {url}"
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "connection pool",
        }.get(type(exc), "request")
        return TransportTimeoutError(
            redactor.text(f"Timed out ({kind} timeout) talking to {where} for {action}: {detail}")
        )
    tls = _ssl_cause(exc)
    if tls is not None and not isinstance(tls, _TRANSIENT_SSL):
        hint = ""
        if isinstance(tls, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in detail:
            hint = " (the server certificate is not trusted: check the CA certificate or the URL's host name)"
        return TLSError(redactor.text(f"TLS handshake with {where} failed for {action}{hint}: {tls}"))
    if "CERTIFICATE_VERIFY_FAILED" in detail:
        return TLSError(redactor.text(f"TLS handshake with {where} failed for {action}: {detail}"))
    return ConnectionFailedError(
        redactor.text(f"Could not reach {where} for {action} ({type(exc).__name__}): {detail}")
    )
