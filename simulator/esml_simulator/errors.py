"""Elasticsearch's error envelope.

``{"error": {"root_cause": [...], "type": ..., "reason": ..., "caused_by"?: ...}, "status": N}``.
``root_cause`` repeats the top error unless a nested *Elasticsearch* cause is the root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EsError(Exception):
    """An error Elasticsearch would answer with; rendered by :meth:`body`."""

    def __init__(
        self,
        status: int,
        error_type: str,
        reason: str,
        *,
        caused_by: Mapping[str, Any] | None = None,
        root_cause: list[dict[str, Any]] | None = None,
        headers: Mapping[str, list[str]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.error_type = error_type
        self.reason = reason
        self.caused_by = dict(caused_by) if caused_by else None
        self.root_cause = root_cause
        self.headers = {k: list(v) for k, v in (headers or {}).items()}
        self.extra = dict(extra or {})

    def _own(self) -> dict[str, Any]:
        own: dict[str, Any] = {"type": self.error_type, "reason": self.reason}
        own.update(self.extra)
        if self.headers:
            own["header"] = {k: (v[0] if len(v) == 1 else v) for k, v in self.headers.items()}
        return own

    def body(self) -> dict[str, Any]:
        error = self._own()
        roots = self.root_cause if self.root_cause is not None else [self._own()]
        out: dict[str, Any] = {"root_cause": roots}
        out.update(error)
        if self.caused_by:
            out["caused_by"] = self.caused_by
        return {"error": out, "status": self.status}


class RawError(Exception):
    """A response whose body is not the standard envelope (e.g. "no handler found")."""

    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.payload = body
        self.headers = dict(headers or {})


def status_exception(status: int, reason: str, **kwargs: Any) -> EsError:
    return EsError(status, "status_exception", reason, **kwargs)


def not_found(reason: str) -> EsError:
    return EsError(404, "resource_not_found_exception", reason)


def illegal_argument(reason: str, **kwargs: Any) -> EsError:
    return EsError(400, "illegal_argument_exception", reason, **kwargs)


def parse_exception(reason: str) -> EsError:
    return EsError(400, "parse_exception", reason)


def validation_failed(messages: list[str], error_type: str = "action_request_validation_exception") -> EsError:
    text = "Validation Failed: " + "".join(f"{i}: {m};" for i, m in enumerate(messages, start=1))
    return EsError(400, error_type, text)


def unknown_field(parser: str, field: str) -> EsError:
    return EsError(400, "x_content_parse_exception", f"[1:2] [{parser}] unknown field [{field}]")


def no_deployment(deployment_id: str) -> EsError:
    return not_found(f"No known model deployment with id [{deployment_id}]")


def no_model(model_id: str) -> EsError:
    return not_found(f"No known trained model with model_id [{model_id}]")


def inconsistent_id(field: str, body_value: str, url_value: str, error_type: str) -> EsError:
    reason = (
        f"Inconsistent {field}; '{body_value}' specified in the body differs from "
        f"'{url_value}' specified as a URL argument"
    )
    return EsError(400, error_type, reason)
