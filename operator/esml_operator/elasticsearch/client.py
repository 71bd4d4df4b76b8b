"""The asynchronous Elasticsearch client for trained-model deployments (httpx).

One instance wraps one ``httpx.AsyncClient`` whose base URL, authentication
headers and TLS settings were configured by whoever built it (normally
:class:`~esml_operator.elasticsearch.connections.ConnectionPool`). Every failure
is raised as an :mod:`~esml_operator.elasticsearch.errors` exception with
credentials redacted. See docs/architecture.md and the fact sheet
``docs/reference/elasticsearch/ml-deployments.md``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

import httpx
import orjson

from esml_operator.elasticsearch import load
from esml_operator.elasticsearch.errors import (
    BadRequestError,
    MalformedResponseError,
    ProductCheckError,
    UnsupportedVersionError,
)
from esml_operator.elasticsearch.http_errors import error_from_response, error_from_transport
from esml_operator.elasticsearch.ml_capacity import (
    MlLimits,
    MlNodeMemory,
    parse_ml_info,
    parse_ml_memory_stats,
    parse_model_memory,
)
from esml_operator.elasticsearch.models import (
    UNSET,
    AdaptiveAllocations,
    Assignment,
    ClusterInfo,
    ClusterSnapshot,
    DeploymentStats,
    EsVersion,
    InferenceEndpoint,
    UnsetType,
)
from esml_operator.elasticsearch.operations import RequestObserver, operation_of
from esml_operator.elasticsearch.pages import PageMemo
from esml_operator.elasticsearch.parsing import (
    ShapeError,
    parse_assignment,
    parse_cluster_info,
    parse_inference_endpoint,
    parse_inference_endpoints,
    parse_members,
    parse_stats_page,
)
from esml_operator.elasticsearch.redaction import Redactor

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

#: Plain JSON media types: accepted by every 8.x/9.x server, no REST-compat negotiation.
JSON_HEADERS: Mapping[str, str] = {"Accept": "application/json", "Content-Type": "application/json"}
PRODUCT_HEADER = "X-Elastic-Product"
PRODUCT = "Elasticsearch"
_NO_BODY: Any = object()

# Version gates (fact sheet §9).
V8_3 = (8, 3)  # number_of_allocations / threads_per_allocation names
V8_4 = (8, 4)  # cache_size
V8_6 = (8, 6)  # _update, priority
V8_8 = (8, 8)  # deployment_id
V8_16 = (8, 16)  # adaptive allocations (public); inference _update (num_allocations only)
V8_11 = (8, 11)  # _inference API (GET, PUT, DELETE)
V8_18 = (8, 18)  # inference _update reads adaptive_allocations (PR 121231)
#: The newest inference ``_update`` accepts one of num_allocations / adaptive_allocations, never both.
_ONE_OF_REFUSAL = "cannot be set if [adaptive_allocations] is set"


def _segment(value: str, what: str) -> str:
    if not value:
        raise ValueError(f"{what} must not be empty")
    return quote(value, safe="")


def _adaptive_json(value: AdaptiveAllocations) -> dict[str, Any]:
    out: dict[str, Any] = {"enabled": value.enabled}
    if value.min_number_of_allocations is not None:
        out["min_number_of_allocations"] = value.min_number_of_allocations
    if value.max_number_of_allocations is not None:
        out["max_number_of_allocations"] = value.max_number_of_allocations
    return out


#: What the operator reads of a ``_stats`` page (``parse_stats_page``, ``parse_load``, ``parse_model_memory``,
#: ``parse_members``): Elasticsearch leaves the rest out (``filter_path``: each node's address, attributes and
#: roles, the models' inference and ingest stats), which halves the page. Decoding the pages was most of an
#: idle operator's CPU at 10,000 resources. tests/client/test_stats_filter.py holds the parsers to it.
_DEPLOYMENT_FIELDS = (
    "deployment_id",
    "model_id",
    "state",
    "reason",
    "allocation_status",
    "number_of_allocations",
    "threads_per_allocation",
    "queue_capacity",
    "cache_size",
    "priority",
    "start_time",
    "adaptive_allocations",
    *load.DEPLOYMENT_FIELDS,
)
_ROUTE_FIELDS = ("routing_state", "number_of_allocations", *load.NODE_FIELDS)
_NODE_DETAILS = ("name", "ephemeral_id", "version")
STATS_FILTER = ",".join(
    (
        "count",
        "trained_model_stats.model_id",
        "trained_model_stats.model_size_stats.required_native_memory_bytes",
        *(f"trained_model_stats.deployment_stats.{field}" for field in _DEPLOYMENT_FIELDS),
        *(f"trained_model_stats.deployment_stats.nodes.{field}" for field in dict.fromkeys(_ROUTE_FIELDS)),
        *(f"trained_model_stats.deployment_stats.nodes.node.*.{field}" for field in _NODE_DETAILS),
    )
)


class StatsPage(NamedTuple):
    """One ``_stats`` page as the operator reads it; immutable, so an unchanged page's can be reused."""

    models_in_answer: int  # ``count``: models in the whole answer (entries are per deployment)
    model_ids: tuple[str, ...]
    deployments: tuple[DeploymentStats, ...]
    model_memory: Mapping[str, int]  # read-only
    members: frozenset[tuple[str, str, str]]


def _stats_page_and_memory(body: Any) -> StatsPage:
    count, ids, deployments = parse_stats_page(body)
    memory = MappingProxyType(parse_model_memory(body))
    return StatsPage(count, tuple(ids), tuple(deployments), memory, parse_members(body))


def _flag(value: bool) -> str:
    return "true" if value else "false"


class ElasticsearchClient:
    """Async client for the ML trained-model deployment APIs of one cluster."""

    def __init__(
        self, http: httpx.AsyncClient, redact: Sequence[str] = (), *, observer: RequestObserver | None = None
    ) -> None:
        """``observer`` is told about every request sent (operation, status, seconds), e.g. for metrics."""
        self._http = http
        self._redactor = Redactor(redact)
        self._observer = observer
        self._stats_pages: PageMemo[StatsPage] = PageMemo()

    def __repr__(self) -> str:
        return f"ElasticsearchClient({self.base_url})"

    @property
    def base_url(self) -> str:
        """The endpoint, with any URL userinfo redacted."""
        return self._redactor.text(str(self._http.base_url).rstrip("/"))

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def aclose(self) -> None:
        """Close the underlying ``httpx.AsyncClient`` (its connection pool)."""
        await self._http.aclose()

    # ------------------------------------------------------------------ transport

    async def _send(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str] | None = None,
        body: Any = _NO_BODY,
    ) -> httpx.Response:
        """Send one request; map transport failures. Returns any HTTP answer."""
        kwargs: dict[str, Any] = {"params": dict(params or {}), "headers": JSON_HEADERS}
        if body is not _NO_BODY:
            kwargs["json"] = body
        started = time.monotonic()
        try:
            response = await self._http.request(method, path, **kwargs)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            self._observe(method, path, None, started)
            error = error_from_transport(exc, action=action, url=self.base_url, redactor=self._redactor)
            logger.debug("%s %s failed: %s", method, path, error.message)
            raise error from exc
        self._observe(method, path, response.status_code, started)
        logger.debug("%s %s -> %d", method, path, response.status_code)
        return response

    def _observe(self, method: str, path: str, status: int | None, started: float) -> None:
        if self._observer is None:
            return
        try:
            self._observer(operation_of(method, path), status, time.monotonic() - started)
        except Exception:  # an observer must never break a request
            logger.exception("the request observer failed")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        params: Mapping[str, str] | None = None,
        body: Any = _NO_BODY,
    ) -> Any:
        """Send a request, raise the mapped error for non-2xx, return the parsed JSON body."""
        response = await self._send(method, path, action=action, params=params, body=body)
        if not response.is_success:
            raise error_from_response(response, action=action, redactor=self._redactor)
        return self._json(response, action)

    def _json(self, response: httpx.Response, action: str) -> Any:
        try:
            return orjson.loads(response.content)  # a resync round's _stats pages: ~3x faster than json
        except (ValueError, UnicodeDecodeError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise MalformedResponseError(
                self._redactor.text(
                    f"Elasticsearch answered {action} with {response.status_code} "
                    f"but the body is not JSON ({response.headers.get('content-type', 'no content type')})"
                ),
                status=response.status_code,
            ) from exc

    def _malformed(self, exc: ShapeError, action: str, status: int = 200) -> MalformedResponseError:
        return MalformedResponseError(self._redactor.text(f"Unexpected answer to {action}: {exc}"), status=status)

    def _parsed(self, parse: Callable[[Any], _T], body: Any, action: str) -> _T:
        """``parse(body)``; an answer of the wrong shape is a :class:`MalformedResponseError` naming ``action``."""
        try:
            return parse(body)
        except ShapeError as exc:
            raise self._malformed(exc, action) from exc

    def _require(self, version: EsVersion, needed: tuple[int, int], feature: str, action: str) -> None:
        if not version.at_least(*needed):
            raise UnsupportedVersionError(
                self._redactor.text(
                    f"Cannot send {action}: {feature} needs Elasticsearch {needed[0]}.{needed[1]} "
                    f"or later, the cluster runs {version}"
                )
            )

    # ------------------------------------------------------------------ API

    async def info(self) -> ClusterInfo:
        """``GET /`` with the product check (``X-Elastic-Product: Elasticsearch``)."""
        action = "GET / (cluster info)"
        response = await self._send("GET", "/", action=action)
        # Error answers are mapped before the product check: 401/403 from old
        # versions (and from proxies) lack the header but are auth errors.
        if not response.is_success:
            raise error_from_response(response, action=action, redactor=self._redactor)
        if response.headers.get(PRODUCT_HEADER) != PRODUCT:
            raise ProductCheckError(
                self._redactor.text(
                    f"The server at {self.base_url} is not Elasticsearch: its answer to GET / lacks the "
                    f"'{PRODUCT_HEADER}: {PRODUCT}' header "
                    "(a proxy, another product, or a version before 7.14)"
                ),
                status=response.status_code,
            )
        body = self._json(response, action)
        return self._parsed(parse_cluster_info, body, action)

    async def stats_snapshot(self, page_size: int = 100) -> ClusterSnapshot:
        """Every model and deployment via ``GET _ml/trained_models/_all/_stats``, all pages.

        ``from``/``size`` page over *models* and ``count`` counts models while
        entries are per deployment (fact sheet §2.4), so paging advances by
        ``page_size`` models until ``count`` models are covered.
        """
        if not 1 <= page_size <= 10_000:
            raise ValueError("page_size must be between 1 and 10000")
        action = "_stats of all trained models"
        model_ids: set[str] = set()
        deployments: dict[str, DeploymentStats] = {}
        model_memory: dict[str, int] = {}
        members: set[tuple[str, str, str]] = set()
        start = 0
        try:
            while True:
                page = await self._stats_page(start, page_size, action)
                model_memory.update(page.model_memory)
                members.update(page.members)
                model_ids.update(page.model_ids)
                for stats in page.deployments:
                    deployments[stats.deployment_id] = stats
                start += page_size
                if not page.model_ids or start >= page.models_in_answer:
                    break
        except BaseException:
            self._stats_pages.abandon()
            raise
        self._stats_pages.done()
        logger.debug("stats snapshot: %d models, %d deployments", len(model_ids), len(deployments))
        return ClusterSnapshot(
            model_ids=frozenset(model_ids),
            deployments=deployments,
            model_memory=model_memory,
            members=frozenset(members),
        )

    async def _stats_page(self, start: int, size: int, action: str) -> StatsPage:
        """One page of ``_stats``; a page with the same bytes as last time is not decoded or parsed again."""
        params = {"from": str(start), "size": str(size), "allow_no_match": "true", "filter_path": STATS_FILTER}
        response = await self._send("GET", "/_ml/trained_models/_all/_stats", action=action, params=params)
        if not response.is_success:
            raise error_from_response(response, action=action, redactor=self._redactor)

        def parse(content: bytes) -> StatsPage:
            return self._parsed(_stats_page_and_memory, self._json(response, action), action)

        return self._stats_pages.parsed((start, size), response.content, parse)

    async def _get_parsed(self, path: str, parse: Callable[[Any], _T]) -> _T:
        action = f"GET {path.lstrip('/')}"
        body = await self._call("GET", path, action=action)
        return self._parsed(parse, body, action)

    async def ml_limits(self) -> MlLimits:
        """``GET _ml/info`` ``limits`` (needs ``monitor_ml``): the cluster's ML processors and memory."""
        return await self._get_parsed("/_ml/info", parse_ml_info)

    async def ml_memory_stats(self) -> tuple[MlNodeMemory, ...]:
        """``GET _ml/memory/_stats`` (8.2+, needs ``monitor_ml``): each ML node's processors and native memory."""
        return await self._get_parsed("/_ml/memory/_stats", parse_ml_memory_stats)

    async def start_deployment(
        self,
        model_id: str,
        *,
        version: EsVersion,
        deployment_id: str | None = None,
        number_of_allocations: int | None = None,
        threads_per_allocation: int | None = None,
        queue_capacity: int | None = None,
        cache_size: str | None = None,
        priority: str | None = None,
        adaptive_allocations: AdaptiveAllocations | None = None,
        wait_for: str = "starting",
        timeout: str | None = None,  # noqa: ASYNC109 - Elasticsearch's own wait timeout, e.g. "30s"
    ) -> Assignment:
        """``POST _ml/trained_models/{model_id}/deployment/_start``.

        Start-time settings go in the query string (understood by every
        version); ``adaptive_allocations`` goes in the JSON body and only when
        given. Nothing is sent if the cluster lacks a feature the request needs
        (:class:`UnsupportedVersionError`). Settings that ask for nothing new
        on an old cluster are left out instead: ``deployment_id`` equal to the
        model id before 8.8, ``priority="normal"`` before 8.6, disabled
        adaptive allocations before 8.16. ``number_of_allocations`` is never
        sent together with enabled adaptive allocations (Elasticsearch owns
        the count then).
        """
        path = f"/_ml/trained_models/{_segment(model_id, 'model_id')}/deployment/_start"
        action = f"_start of model [{model_id}]"
        if deployment_id is not None and deployment_id != model_id:
            action += f" as deployment [{deployment_id}]"
            self._require(version, V8_8, "a deployment_id different from the model id", action)
        adaptive_on = adaptive_allocations is not None and adaptive_allocations.enabled
        if adaptive_on:
            self._require(version, V8_16, "adaptive allocations", action)
        params: dict[str, str] = {}
        if deployment_id is not None and version.at_least(*V8_8):
            params["deployment_id"] = deployment_id
        if number_of_allocations is not None:
            if adaptive_on:
                logger.debug("%s: number_of_allocations left out, adaptive allocations enabled", action)
            else:
                self._require(version, V8_3, "number_of_allocations", action)
                params["number_of_allocations"] = str(number_of_allocations)
        if threads_per_allocation is not None:
            self._require(version, V8_3, "threads_per_allocation", action)
            params["threads_per_allocation"] = str(threads_per_allocation)
        if queue_capacity is not None:
            params["queue_capacity"] = str(queue_capacity)
        if cache_size is not None:
            self._require(version, V8_4, "cache_size", action)
            params["cache_size"] = cache_size
        if priority is not None and (priority != "normal" or version.at_least(*V8_6)):
            self._require(version, V8_6, f"priority [{priority}]", action)
            params["priority"] = priority
        params["wait_for"] = wait_for
        if timeout is not None:
            params["timeout"] = timeout
        body: Any = _NO_BODY
        if adaptive_allocations is not None and version.at_least(*V8_16):
            body = {"adaptive_allocations": _adaptive_json(adaptive_allocations)}
        answer = await self._call("POST", path, action=action, params=params, body=body)
        return self._parsed(parse_assignment, answer, action)

    async def update_deployment(
        self,
        deployment_id: str,
        *,
        version: EsVersion,
        number_of_allocations: int | None = None,
        adaptive_allocations: AdaptiveAllocations | UnsetType | None = UNSET,
    ) -> Assignment:
        """``POST _ml/trained_models/{deployment_id}/deployment/_update`` (JSON body form, 8.6+).

        ``adaptive_allocations``: :data:`UNSET` (default) sends nothing, ``None``
        sends ``null`` (removes the adaptive settings), a value is sent as an
        object (Elasticsearch merges it with the stored one). To switch from
        adaptive to a fixed count pass ``number_of_allocations=N`` and
        ``AdaptiveAllocations(enabled=False)``; both fields are sent, as
        Kibana does. With enabled adaptive allocations ``number_of_allocations``
        is left out. Before 8.16 a ``None``/disabled adaptive value is left
        out (the cluster has no adaptive allocations to turn off).
        """
        path = f"/_ml/trained_models/{_segment(deployment_id, 'deployment_id')}/deployment/_update"
        action = f"_update of deployment [{deployment_id}]"
        if number_of_allocations is None and adaptive_allocations is UNSET:
            raise ValueError("update_deployment needs number_of_allocations or adaptive_allocations")
        self._require(version, V8_6, "the _update API", action)
        adaptive_on = isinstance(adaptive_allocations, AdaptiveAllocations) and adaptive_allocations.enabled
        body: dict[str, Any] = {}
        if adaptive_allocations is not UNSET:
            if adaptive_on:
                self._require(version, V8_16, "adaptive allocations", action)
            if version.at_least(*V8_16):
                body["adaptive_allocations"] = (
                    None if adaptive_allocations is None else _adaptive_json(adaptive_allocations)
                )
        if number_of_allocations is not None:
            if adaptive_on:
                logger.debug("%s: number_of_allocations left out, adaptive allocations enabled", action)
            else:
                body["number_of_allocations"] = number_of_allocations
        if not body:
            raise UnsupportedVersionError(
                self._redactor.text(
                    f"Cannot send {action}: nothing left to change on Elasticsearch {version} "
                    "(adaptive allocations need 8.16 or later)"
                )
            )
        answer = await self._call("POST", path, action=action, body=body)
        return self._parsed(parse_assignment, answer, action)

    async def stop_deployment(self, deployment_id: str, *, force: bool = False, allow_no_match: bool = True) -> None:
        """``POST _ml/trained_models/{deployment_id}/deployment/_stop`` (query parameters, no body)."""
        path = f"/_ml/trained_models/{_segment(deployment_id, 'deployment_id')}/deployment/_stop"
        action = f"_stop of deployment [{deployment_id}]"
        params = {"force": _flag(force), "allow_no_match": _flag(allow_no_match)}
        answer = await self._call("POST", path, action=action, params=params)
        if not (isinstance(answer, Mapping) and answer.get("stopped") is True):
            logger.warning('%s: unexpected answer (no "stopped": true)', action)

    async def get_inference_endpoints(self, *, version: EsVersion) -> tuple[InferenceEndpoint, ...]:
        """``GET _inference/_all``: every inference endpoint, in one request (8.11+).

        Needs the ``monitor_inference`` cluster privilege (also granted by
        ``monitor`` and ``manage_inference``). ``num_allocations`` of an
        ``elasticsearch`` endpoint is the deployment's live count (8.16+).
        """
        action = "listing of inference endpoints"
        self._require(version, V8_11, "the _inference API", action)
        body = await self._call("GET", "/_inference/_all", action=action)
        return self._parsed(parse_inference_endpoints, body, action)

    async def update_inference_endpoint(
        self,
        task_type: str,
        inference_id: str,
        *,
        version: EsVersion,
        num_allocations: int | None = None,
        adaptive_allocations: AdaptiveAllocations | UnsetType = UNSET,
    ) -> InferenceEndpoint:
        """``PUT _inference/{task_type}/{inference_id}/_update`` with ``{"service_settings": {...}}``.

        The way to change a deployment that an inference endpoint created: from
        Elasticsearch 9.2 the trained-model ``_update`` of such a deployment
        answers 409. The answer is the endpoint's stored configuration, not an
        assignment. Needs ``manage_inference``.

        ``num_allocations`` is left out while ``adaptive_allocations`` is
        enabled. To switch adaptive allocations off pass both
        (``AdaptiveAllocations(enabled=False)``): they are sent together, and if
        Elasticsearch accepts only one of them (the newest form of the API, in
        which ``num_allocations`` alone clears the adaptive settings) the
        request is sent once more with ``num_allocations`` alone. 8.16 and 8.17
        read only ``num_allocations``; adaptive settings need 8.18.
        """
        path = f"/_inference/{_segment(task_type, 'task_type')}/{_segment(inference_id, 'inference_id')}/_update"
        action = f"_update of inference endpoint [{inference_id}]"
        if num_allocations is None and adaptive_allocations is UNSET:
            raise ValueError("update_inference_endpoint needs num_allocations or adaptive_allocations")
        self._require(version, V8_16, "the inference _update API", action)
        settings: dict[str, Any] = {}
        adaptive_on = isinstance(adaptive_allocations, AdaptiveAllocations) and adaptive_allocations.enabled
        if isinstance(adaptive_allocations, AdaptiveAllocations):
            self._require(version, V8_18, "adaptive_allocations in the inference _update", action)
            settings["adaptive_allocations"] = _adaptive_json(adaptive_allocations)
        if num_allocations is not None and not adaptive_on:
            settings["num_allocations"] = num_allocations
        try:
            answer = await self._call("PUT", path, action=action, body={"service_settings": settings})
        except BadRequestError as error:
            if not (len(settings) == 2 and _ONE_OF_REFUSAL in (error.reason or "")):
                raise
            logger.debug("%s: one key at a time on this version; sending num_allocations alone", action)
            answer = await self._call(
                "PUT", path, action=action, body={"service_settings": {"num_allocations": num_allocations}}
            )
        return self._parsed(parse_inference_endpoint, answer, action)
