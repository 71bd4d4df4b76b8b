"""Execute one YAML REST test case through the official ``elasticsearch`` client.

Semantics follow the format Elasticsearch's clients run: ``do`` calls a client
API (``ml.put_trained_model``) or ``perform_request`` (for routes the client
has no method for, such as deprecated ones), with ``headers``, ``catch``,
``warnings`` (exactly these deprecation warnings) and ``allowed_warnings``
(these may appear). Any other warning fails the step. ``match``, ``length``,
``is_true``, ``is_false``, ``gt``/``gte``/``lt``/``lte`` and ``set`` read the
last response by a dotted path; ``$name`` and ``${name}`` use stashed values;
a ``/.../`` string is a verbose regular expression. ``skip`` skips the case by
version range or for a feature this runner lacks.
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import pytest
from elasticsearch import ApiError, AsyncElasticsearch, ElasticsearchWarning

from .loader import Case, Step
from .paths import lookup, substitute
from .skips import skip_reason

CATCH_STATUS = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "missing": 404,
    "request_timeout": 408,
    "conflict": 409,
    "unavailable": 503,
}
_WARNING = re.compile(r'"((?:[^"\\]|\\.)*)"')
DO_KEYS = {"catch", "headers", "warnings", "allowed_warnings"}


def parse_warnings(headers: Any) -> list[str]:
    """Texts of every ``Warning`` header value (``299 Elasticsearch-<v> "<text>"``)."""
    values = headers.getall("warning", []) if hasattr(headers, "getall") else []
    if not values and headers is not None and headers.get("warning"):
        values = [headers.get("warning")]
    return [m.replace('\\"', '"') for value in values for m in _WARNING.findall(value)]


#: API names older YAML files use, and the official client's names for them
RENAMED = {
    "inference.get_model": "inference.get",
    "inference.put_model": "inference.put",
    "inference.delete_model": "inference.delete",
}


def _regex(expected: Any, flags: int = re.VERBOSE) -> re.Pattern[str] | None:
    """``/.../``: ``match`` reads it verbose (whitespace ignored), ``catch`` literally, as the format says."""
    if isinstance(expected, str):
        text = expected.strip()
        if len(text) > 1 and text.startswith("/") and text.endswith("/"):
            return re.compile(text[1:-1], flags)
    return None


class Runner:
    def __init__(self, client: AsyncElasticsearch, version: str) -> None:
        self.client = client
        self.version = version
        self.stash: dict[str, Any] = {}
        self.body: Any = None

    async def run(self, case: Case) -> None:
        for step in case.setup + case.steps:
            if "skip" in step:
                reason = skip_reason(step["skip"], self.version)
                if reason:
                    pytest.skip(reason)
        try:
            for index, step in enumerate(case.setup + case.steps):
                await self.step(index, step)
        finally:
            for step in case.teardown:
                await self.step(-1, step)

    async def step(self, index: int, step: Step) -> None:
        (kind, arg), *_ = step.items()
        where = f"step {index} ({kind})"
        if kind == "skip":
            return
        if kind == "do":
            await self.do(where, arg)
            return
        checks = {"match": self.match, "length": self.length, "set": self.set}
        if kind in checks:
            for path, expected in arg.items():
                checks[kind](where, path, expected)
        elif kind in ("is_true", "is_false"):
            value = lookup(self.body, arg, self.stash, missing=None)
            truthy = value not in (None, False, "", "false", 0) and value != [] and value != {}
            assert truthy == (kind == "is_true"), f"{where}: [{arg}] is {value!r}"
        elif kind in ("gt", "gte", "lt", "lte"):
            for path, bound in arg.items():
                self.compare(where, kind, path, bound)
        else:
            raise AssertionError(f"{where}: unknown step [{kind}]")

    async def do(self, where: str, spec: dict[str, Any]) -> None:
        calls = [k for k in spec if k not in DO_KEYS]
        assert len(calls) == 1, f"{where}: exactly one API call per do, got {calls}"
        api = calls[0]
        params = substitute(spec[api] or {}, self.stash)
        catch = spec.get("catch")
        client = self.client.options(headers=spec["headers"]) if spec.get("headers") else self.client
        status, body, headers = await self._call(client, api, params)
        self.body = body
        if catch is None:
            assert status < 400, f"{where}: {api} failed with {status}: {json.dumps(body)}"
        else:
            self._check_catch(where, api, catch, status, body)
        self._check_warnings(where, parse_warnings(headers), spec)

    async def _call(self, client: AsyncElasticsearch, api: str, params: dict[str, Any]) -> tuple[int, Any, Any]:
        if "body" in params and isinstance(params["body"], str):
            params = {**params, "body": json.loads(params["body"])}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ElasticsearchWarning)  # checked from the headers instead
                resp = await self._send(client, api, params)
        except ApiError as exc:
            return exc.meta.status, exc.body, exc.meta.headers
        return resp.meta.status, resp.body, resp.meta.headers

    async def _send(self, client: AsyncElasticsearch, api: str, params: dict[str, Any]) -> Any:
        if api == "perform_request":
            return await client.perform_request(
                params["method"],
                params["path"],
                params=params.get("params"),
                headers={"accept": "application/json", "content-type": "application/json"},
                body=params.get("body"),
            )
        target: Any = client
        for part in RENAMED.get(api, api).split("."):
            target = getattr(target, part)
        return await target(**params)

    def _check_catch(self, where: str, api: str, catch: str, status: int, body: Any) -> None:
        text = json.dumps(body)
        pattern = _regex(catch, flags=0)
        if pattern is not None:
            assert status >= 400, f"{where}: {api} succeeded; expected an error matching {catch}"
            assert pattern.search(text), f"{where}: {catch} not found in {text}"
        elif catch == "request":
            assert status >= 400, f"{where}: {api} succeeded ({status}); expected an error"
        else:
            assert catch in CATCH_STATUS, f"{where}: unknown catch [{catch}]"
            assert status == CATCH_STATUS[catch], f"{where}: expected {catch}, got {status}: {text}"

    def _check_warnings(self, where: str, received: list[str], spec: dict[str, Any]) -> None:
        expected = [substitute(w, self.stash) for w in spec.get("warnings") or []]
        allowed = set(expected) | {substitute(w, self.stash) for w in spec.get("allowed_warnings") or []}
        missing = [w for w in expected if w not in received]
        unexpected = [w for w in received if w not in allowed]
        assert not missing, f"{where}: expected warnings {missing}, received {received}"
        assert not unexpected, f"{where}: unexpected warnings {unexpected}"

    def match(self, where: str, path: str, expected: Any) -> None:
        actual = lookup(self.body, path, self.stash)
        pattern = _regex(expected)
        if pattern is not None:
            assert isinstance(actual, str), f"{where}: [{path}] is {actual!r}, not a string for {expected}"
            assert pattern.search(actual), f"{where}: [{path}] {actual!r} does not match {expected}"
            return
        wanted = substitute(expected, self.stash)
        assert actual == wanted, f"{where}: [{path}] is {actual!r}, expected {wanted!r}"

    def length(self, where: str, path: str, expected: Any) -> None:
        actual = lookup(self.body, path, self.stash)
        assert isinstance(actual, list | dict | str), f"{where}: [{path}] has no length: {actual!r}"
        assert len(actual) == substitute(expected, self.stash), f"{where}: len([{path}]) is {len(actual)}"

    def set(self, where: str, path: str, name: str) -> None:
        self.stash[name] = lookup(self.body, path, self.stash)

    def compare(self, where: str, op: str, path: str, bound: Any) -> None:
        actual = lookup(self.body, path, self.stash)
        limit = substitute(bound, self.stash)
        assert isinstance(actual, int | float) and not isinstance(actual, bool), f"{where}: [{path}] is {actual!r}"
        ok = {"gt": actual > limit, "gte": actual >= limit, "lt": actual < limit, "lte": actual <= limit}[op]
        assert ok, f"{where}: [{path}] is {actual}, expected {op} {limit}"
