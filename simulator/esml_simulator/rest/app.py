"""The aiohttp application: Elasticsearch's REST layer in front of the simulated cluster."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from esml_simulator.errors import EsError, RawError
from esml_simulator.rest.params import Query
from esml_simulator.rest.request import RestRequest
from esml_simulator.rest.routing import Route, resolve

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine

#: Answers a ``/_sim/`` request (the control API, ``esml_simulator.control.handler``).
AdminHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PRODUCT_HEADER = ("X-Elastic-Product", "Elasticsearch")
_COMPAT = re.compile(r"application/vnd\.elasticsearch\+[a-z-]+\s*;\s*compatible-with\s*=\s*(\d+)", re.IGNORECASE)
_JSON_TYPES = ("application/json", "application/vnd.elasticsearch+json")
ADMIN_PREFIX = "/_sim/"


def _version_of(header: str | None) -> int | None:
    if not header:
        return None
    match = _COMPAT.search(header)
    return int(match.group(1)) if match else None


def compat_major(engine: Engine, accept: str | None, content_type: str | None, has_content: bool) -> int:
    """``RestCompatibleVersionHelper``: the REST API version a request asks for, or a 400."""
    current, previous = engine.version.compatible_majors
    accept_v, content_v = _version_of(accept), _version_of(content_type)

    def fail(reason: str) -> EsError:
        own = {
            "type": "media_type_header_exception",
            "reason": "Invalid media-type value on headers [Accept, Content-Type]",
        }
        return EsError(
            400, own["type"], own["reason"], caused_by={"type": "status_exception", "reason": reason}, root_cause=[own]
        )

    if accept_v is not None and accept_v not in (current, previous):
        raise fail(
            f"Accept version must be either version {current} or {previous}, but found {accept_v}. Accept={accept}"
        )
    if has_content:
        if content_v is not None and content_v not in (current, previous):
            raise fail(
                f"Content-Type version must be either version {current} or {previous}, but found "
                f"{content_v}. Content-Type={content_type}"
            )
        if (accept_v or current) != (content_v or current):
            raise fail(
                "A compatible version is required on both Content-Type and Accept headers if either one has "
                "requested a compatible version and the compatible versions must match. "
                f"Accept={accept}, Content-Type={content_type}"
            )
        if (accept_v is None) != (content_v is None):
            raise fail(
                "A compatible version is required on both Content-Type and Accept headers if either one has "
                f"requested a compatible version. Accept={accept}, Content-Type={content_type}"
            )
    return accept_v or current


def filter_path(payload: Any, expression: str) -> Any:
    patterns = [p.split(".") for p in expression.split(",") if p.strip()]

    def walk(obj: Any, pats: list[list[str]]) -> Any:
        if any(not p for p in pats):
            return obj
        if isinstance(obj, list):
            kept = [walk(item, pats) for item in obj]
            return [k for k in kept if k is not _MISSING]
        if not isinstance(obj, dict):
            return _MISSING
        out = {}
        for key, value in obj.items():
            nxt: list[list[str]] = []
            for p in pats:
                if p[0] == "**":
                    nxt.append(p)
                    if len(p) > 1 and fnmatch.fnmatchcase(key, p[1]):
                        nxt.append(p[2:])
                elif fnmatch.fnmatchcase(key, p[0]):
                    nxt.append(p[1:])
            if nxt:
                sub = walk(value, nxt)
                if sub is not _MISSING and sub != {} and sub != []:
                    out[key] = sub
        return out if out else _MISSING

    result = walk(payload, patterns)
    return {} if result is _MISSING else result


_MISSING: Any = object()


def render(
    status: int,
    payload: Any,
    *,
    pretty: bool = False,
    content_type: str = "application/json",
    headers: CIMultiDict[str] | None = None,
    head: bool = False,
) -> web.Response:
    out_headers: CIMultiDict[str] = CIMultiDict(headers or {})
    out_headers[PRODUCT_HEADER[0]] = PRODUCT_HEADER[1]
    if payload is None or head:
        return web.Response(status=status, headers=out_headers)
    text = json.dumps(payload, indent=2 if pretty else None, separators=None if pretty else (",", ":"))
    out_headers["Content-Type"] = content_type
    return web.Response(status=status, body=(text + ("\n" if pretty else "")).encode(), headers=out_headers)


def error_response(exc: EsError | RawError, pretty: bool, content_type: str) -> web.Response:
    headers: CIMultiDict[str] = CIMultiDict()
    if isinstance(exc, RawError):
        for key, value in exc.headers.items():
            headers.add(key, value)
        return render(exc.status, exc.payload, pretty=pretty, content_type=content_type, headers=headers)
    for key, values in exc.headers.items():
        for value in values:
            headers.add(key, value)
    return render(exc.status, exc.body(), pretty=pretty, content_type=content_type, headers=headers)


def make_app(
    engine: Engine,
    routes: Sequence[Route],
    admin: AdminHandler,
    after_change: Callable[[], None] | None = None,
) -> web.Application:
    """Elasticsearch's ``routes`` on ``engine``, and ``admin`` under ``/_sim/``.

    ``after_change`` runs after each request that may change the state (any method but GET and HEAD).
    """

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX) or request.path == ADMIN_PREFIX.rstrip("/"):
            return await admin(request)
        return await handle_es(engine, routes, request)

    async def handle(request: web.Request) -> web.StreamResponse:
        response = await answer(request)
        if after_change is not None and request.method not in ("GET", "HEAD"):
            after_change()
        return response

    app = web.Application(client_max_size=512 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _record(engine: Engine, request: web.Request, body: bytes) -> dict[str, Any]:
    parsed: Any = None
    if body:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body.decode("utf-8", "replace")
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "body": parsed,
        "time": engine.clock.now(),
        "wall_time": time.time(),
        "headers": {
            k: ("<redacted>" if k.lower() == "authorization" else v)
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "content-type", "accept", "user-agent", "x-opaque-id")
        },
        "status": None,  # set once the response is known (stays None for a reset or hung connection)
    }
    engine.requests.append(entry)
    return entry


async def handle_es(engine: Engine, routes: Sequence[Route], request: web.Request) -> web.StreamResponse:
    body = await request.read()
    entry = _record(engine, request, body)
    response = await _answer(engine, routes, request, body)
    aborted = request.transport is None or request.transport.is_closing()
    entry["status"] = None if aborted else response.status
    return response


async def _answer(engine: Engine, routes: Sequence[Route], request: web.Request, body: bytes) -> web.StreamResponse:
    pretty = "pretty" in request.query and request.query.get("pretty") in ("", "true")
    accept = request.headers.get("Accept")
    content_type_header = request.headers.get("Content-Type")
    requested = _version_of(accept)
    response_type = (
        f"application/vnd.elasticsearch+json;compatible-with={requested}" if requested else "application/json"
    )
    raw_path = request.raw_path.split("?", 1)[0]
    match = resolve(routes, request.path, request.method, engine.version)
    for fault in engine.faults.take(match.endpoint):
        if fault.kind == "latency":
            await asyncio.sleep(fault.latency)
        elif fault.kind == "hang":
            await engine.faults.hang()
        elif fault.kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client: the connection is gone
        else:
            headers: CIMultiDict[str] = CIMultiDict()
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            return render(fault.status, fault.body(), pretty=pretty, content_type=response_type, headers=headers)
    rest: RestRequest | None = None
    try:
        principal = None
        if engine.security.enabled:
            principal = engine.security.authenticate(request.headers.get("Authorization"), request.raw_path)
        major = compat_major(engine, accept, content_type_header, bool(body))
        if body:
            media = (content_type_header or "").split(";")[0].strip().lower()
            if media not in _JSON_TYPES:
                raise RawError(
                    406, {"error": f"Content-Type header [{content_type_header or ''}] is not supported", "status": 406}
                )
        if match.route is None:
            if match.allowed:
                allowed = ", ".join(match.allowed)
                raise RawError(
                    405,
                    {
                        "error": f"Incorrect HTTP method for uri [{request.raw_path}] and method "
                        f"[{request.method}], allowed: [{allowed}]",
                        "status": 405,
                    },
                    {"Allow": ",".join(match.allowed)},
                )
            raise RawError(
                400, {"error": f"no handler found for uri [{request.raw_path}] and method [{request.method}]"}
            )
        handler = match.route.methods[request.method][0]
        rest = RestRequest(
            method=request.method,
            path=raw_path,
            uri=request.raw_path,
            query=Query(request.query, raw_path),
            body=body,
            principal=principal,
            compat_major=major,
            path_params=match.params,
        )
        action = handler(engine, rest)
        rest.check_consumed()
        status, payload = await action()
    except (EsError, RawError) as exc:
        failed = error_response(exc, pretty, response_type)
        if rest is not None:
            failed.headers.extend(rest.response_headers)  # a deprecated route warns on errors too
        return failed
    if payload is not None and "filter_path" in request.query:
        payload = filter_path(payload, request.query["filter_path"])
    extra: CIMultiDict[str] = CIMultiDict(rest.response_headers)
    return render(
        status, payload, pretty=pretty, content_type=response_type, headers=extra, head=request.method == "HEAD"
    )
