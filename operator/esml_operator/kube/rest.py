"""Plain JSON requests through ``kubernetes.aio``'s ``ApiClient``, without its generated API classes.

The client's authentication, TLS, connection pool and request timeout are used as they are; only the generated
``CoreV1Api`` is left out. Importing it imports its ~275 pydantic model classes: about 24 MB of the operator's
resident memory (81 against 57 MB of anonymous memory with no resources), and each Event built from those models
cost a model tree and its serialisation per post. The operator reads a few fields of a Secret, a Service and a
ConfigMap and writes Events and a pod label: a dictionary says all of it.

Failures are :mod:`esml_operator.kube.errors`' vocabulary, as for the generated calls.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from esml_operator.kube.errors import call, discard, reply, unless_missing

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def path(*segments: str) -> str:
    """``/api/v1/namespaces/ml/secrets/es``: each segment quoted whole (a name never adds a level)."""
    return "/" + "/".join(quote(segment, safe="") for segment in segments)


async def _send(
    api_client: Any,
    method: str,
    resource: str,
    body: Any = None,
    *,
    content_type: str = JSON,
    query: Sequence[tuple[str, str]] = (),
    request_timeout: float | None = None,
) -> Any:
    """The ``aiohttp`` response, its body not yet read (:func:`errors.discard` and :func:`read` read it)."""
    headers = {"Accept": JSON, **({"Content-Type": content_type} if body is not None else {})}
    request = await api_client.param_serialize(
        method=method,
        resource_path=resource,
        query_params=list(query),
        header_params=headers,
        body=body,
        auth_settings=["BearerToken"],
    )
    answer = await api_client.call_api(*request, _request_timeout=request_timeout, _preload_content=False)
    return answer.response


async def _decoded(request: Any) -> Any:
    return json.loads(await reply(request))


async def read(what: str, api_client: Any, resource: str, *, request_timeout: float | None = None) -> dict[str, Any]:
    """GET ``resource`` as a dictionary; a failure is the :class:`errors.KubeError` for it."""
    found: dict[str, Any] = await call(
        what, _decoded(_send(api_client, "GET", resource, request_timeout=request_timeout))
    )
    return found


async def read_unless_missing(
    what: str, api_client: Any, resource: str, *, request_timeout: float | None = None
) -> dict[str, Any] | None:
    """Like :func:`read`, but ``None`` when it does not exist (404)."""
    found: dict[str, Any] | None = await unless_missing(
        what, _decoded(_send(api_client, "GET", resource, request_timeout=request_timeout))
    )
    return found


async def write(
    what: str,
    api_client: Any,
    method: str,
    resource: str,
    body: Mapping[str, Any] | Sequence[Any],
    *,
    content_type: str = JSON,
    query: Sequence[tuple[str, str]] = (),
) -> None:
    """POST/PATCH ``body``; the reply is read as bytes and never decoded (:func:`errors.discard`)."""
    await discard(what, _send(api_client, method, resource, body, content_type=content_type, query=query))
