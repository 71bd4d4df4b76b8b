"""The Elasticsearch error vocabulary, owned at the client boundary.

Every failure of a call to Elasticsearch surfaces as one of these exceptions.
The class is chosen from the HTTP status and, where it matters, the
Elasticsearch ``error.type``; the original ``httpx`` exception (if any) is
chained as ``__cause__``. Messages never contain credentials: the client
redacts them before constructing an error.

This module imports no HTTP library so that the pure decision logic
(:mod:`esml_operator.reconcile`) can reason about errors without doing I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ElasticsearchError(Exception):
    """Base class: anything that went wrong talking to Elasticsearch."""

    #: Whether retrying the same request later may succeed without an outside change.
    temporary: bool = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        reason: str | None = None,
        retry_after: float | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type
        self.reason = reason if reason is not None else message
        self.retry_after = retry_after
        self.body = body

    @property
    def condition_reason(self) -> str:
        """A CamelCase-free machine reason for Kubernetes conditions.

        It carries the Elasticsearch ``error.type`` when there is one
        (for example ``status_exception``), otherwise the class name.
        """
        return self.error_type or type(self).__name__

    def __str__(self) -> str:
        return self.message


class ConnectionFailedError(ElasticsearchError):
    """The request never got an HTTP answer: refused, reset, DNS, TLS handshake."""


class TLSError(ConnectionFailedError):
    """The TLS handshake failed (for example an untrusted certificate). Permanent until config changes."""

    temporary = False


class TransportTimeoutError(ElasticsearchError):
    """The client gave up waiting for an answer (connect, read or pool timeout)."""


class MalformedResponseError(ElasticsearchError):
    """Elasticsearch (or something in between) answered 2xx with a body the client cannot parse."""


class ConnectionConfigError(ElasticsearchError):
    """The connection settings are unusable (bad URL, unreadable CA certificate). Permanent."""

    temporary = False


class InsecureConnectionError(ConnectionConfigError):
    """Credentials would travel over plain ``http://`` and that was not explicitly allowed."""


class ProductCheckError(ElasticsearchError):
    """The server answered but is not Elasticsearch (no ``X-Elastic-Product`` header)."""

    temporary = False


class UnsupportedVersionError(ElasticsearchError):
    """The cluster's version lacks a feature the request needs."""

    temporary = False


class ApiError(ElasticsearchError):
    """Elasticsearch answered with an HTTP error status."""


class BadRequestError(ApiError):
    """400: the request is invalid (validation, parse or illegal argument)."""

    temporary = False


class AuthenticationError(ApiError):
    """401: missing or wrong credentials."""

    temporary = False


class AuthorizationError(ApiError):
    """403: authenticated, but lacking a privilege (or license)."""

    temporary = False


class NotFoundError(ApiError):
    """404: the model, definition or deployment does not exist."""

    temporary = False


class RequestTimeoutError(ApiError):
    """408: Elasticsearch timed out waiting (for example for a deployment to start; it keeps starting)."""


class ClusterNotReadyError(ApiError):
    """403 ``status_exception``: not a privilege problem but a cluster state one.

    Elasticsearch refuses to start a deployment while a rolling upgrade is in
    progress (mixed-version cluster); this clears by itself, so it is temporary.
    """


class ConflictError(ApiError):
    """409: the resource is in a state that does not allow the operation right now."""


class TooManyRequestsError(ApiError):
    """429: capacity exhausted (deployment cap or ML capacity) or rate limited."""


class ServerError(ApiError):
    """5xx: Elasticsearch failed internally or is unavailable."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthorizationError,
    404: NotFoundError,
    408: RequestTimeoutError,
    409: ConflictError,
    429: TooManyRequestsError,
}


def api_error_class(status: int, error_type: str | None = None) -> type[ApiError]:
    """The exception class for an HTTP error status and Elasticsearch ``error.type``.

    This is the single classification table (see the fact sheet §6.2 and §7.1).
    ``error_type`` only refines the status where the status alone misleads:
    a 403 ``status_exception`` is a cluster-state refusal (upgrade in
    progress), not a missing privilege.
    """
    if status == 403 and error_type == "status_exception":
        return ClusterNotReadyError
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if status >= 400:
        return BadRequestError
    return ApiError
