"""One vocabulary for every failed Kubernetes API call of the operator's own.

:func:`call` awaits a ``kubernetes.aio`` request and turns its failure into a
:class:`KubeError` subclass whose message says what failed and why, in one
short line (the API server's own message, never a traceback, a request body or
credentials): :class:`NotFound` (404), :class:`Conflict` (409), :class:`Invalid`
(422, also a JSON patch whose ``test`` failed), :class:`Forbidden` (401, 403),
:class:`Timeout` (no answer within the request timeout) and
:class:`Unavailable` (anything else: another status, a refused or dropped
connection, a TLS failure).

:func:`discard` is :func:`call` for a write whose reply the operator never reads (a
``*_without_preload_content`` request): the reply is read as bytes, never decoded into
models, and its connection goes back to the pool; a failed status maps as above.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from kubernetes.aio.client import ApiException

T = TypeVar("T")
MESSAGE_LIMIT = 300


class KubeError(Exception):
    """A Kubernetes API call failed; the message says which call and why.

    ``status`` and ``reason`` are the HTTP status and reason phrase when the API server answered (else 0 and "").
    """

    def __init__(self, message: str, *, status: int = 0, reason: str = "") -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


class NotFound(KubeError):
    """HTTP 404: the object (or its namespace) does not exist."""


class Conflict(KubeError):
    """HTTP 409: someone else wrote first (it already exists, or it changed since it was read)."""


class Invalid(KubeError):
    """HTTP 422: the request was refused as invalid (a JSON patch ``test`` that failed among others)."""


class Forbidden(KubeError):
    """HTTP 401 or 403: the operator's credentials may not do this."""


class Timeout(KubeError):
    """No answer within the request timeout; the request was cancelled and its connection closed."""


class Unavailable(KubeError):
    """Any other failure: a 5xx or 429, or no usable connection to the API server."""


_BY_STATUS: dict[int, type[KubeError]] = {401: Forbidden, 403: Forbidden, 404: NotFound, 409: Conflict, 422: Invalid}


async def call(what: str, request: Awaitable[T]) -> T:
    """``request``'s result, or the :class:`KubeError` for its failure, its message starting with ``what``."""
    try:
        return await request
    except ApiException as error:
        status, reason = error.status or 0, " ".join((error.reason or "").split())
        kind = _BY_STATUS.get(status, Unavailable)
        raise kind(f"{what}: {api_message(error)}", status=status, reason=reason) from None
    except TimeoutError:
        raise Timeout(f"{what}: no answer within the request timeout") from None
    except Exception as error:  # aiohttp connection, TLS and payload errors, and whatever else the client raises
        raise Unavailable(f"{what}: {short(f'{type(error).__name__}: {error}')}") from None


async def discard(what: str, request: Awaitable[Any]) -> None:
    """Like :func:`call` for a ``*_without_preload_content`` request (an ``aiohttp.ClientResponse``): the reply
    is read but not decoded (read to its end, so the connection is reused), and a status other than 2xx is the
    :class:`KubeError` :func:`call` raises for it."""
    await call(what, reply(request))


async def reply(request: Awaitable[Any]) -> bytes:
    """The body of a ``*_without_preload_content`` request's ``aiohttp.ClientResponse``, read to its end (so the
    connection goes back to the pool); a status other than 2xx raises the ``ApiException`` :func:`call` maps."""
    response = await request
    try:
        body: bytes = await response.read()
    finally:
        response.release()
    if not 200 <= response.status <= 299:
        raise ApiException(status=response.status, reason=response.reason, body=body.decode("utf-8", "replace"))
    return body


async def unless_missing(what: str, request: Awaitable[T]) -> T | None:
    """Like :func:`call`, but ``None`` when the object does not exist (404)."""
    try:
        return await call(what, request)
    except NotFound:
        return None


def api_message(error: Any) -> str:
    """``HTTP 403 Forbidden: <the API server's message>`` from an ``ApiException``."""
    status, reason = error.status, (error.reason or "").strip()
    detail = ""
    try:
        body = json.loads(error.body) if error.body else None
    except (TypeError, ValueError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        detail = body["message"]
    head = f"HTTP {status} {reason}".strip() if status else reason or "no response"
    return short(f"{head}: {detail}" if detail else head)


def short(text: str) -> str:
    """``text`` on one line, cut to :data:`MESSAGE_LIMIT` characters."""
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."
