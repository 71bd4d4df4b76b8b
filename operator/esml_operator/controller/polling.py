"""One poll of one Elasticsearch cluster: ``_stats`` of every deployment, and the inference endpoints.

The :class:`~.snapshots.SnapshotCache` runs it at most once per cluster per
interval and shares the result, never once per resource. What the operator
reads from an endpoint (its id, task type, service, threads and model) only
changes when the endpoint is recreated, so the list is not fetched on every
poll: :class:`Poller` re-lists when the deployments in ``_stats`` changed
(one appeared, went, or was started again: an endpoint created, deleted or
recreated with its deployment), when the operator itself changed an
endpoint, and at least every ``max_age`` seconds (a safety net, an hour by
default). Likewise, when the ML nodes the deployments run on changed (a node
restarted, a rolling upgrade, another cluster behind the URL: see
``parsing.parse_members``), the cluster's ``GET /`` answer is expired, so
the next pass reads the version and identity again. A steady cluster costs
one request per resync interval. ``GET _inference/_all`` is sent only to clusters
that have the API (8.11+). A permanent refusal of the listing (a 403 without
``monitor_inference``, or a cluster without the inference plugin) does not fail
the poll: the snapshot records that ownership is unknown, and the resources
fall back to the trained-model APIs. A temporary failure (timeout, 5xx, 429)
fails the poll like a failed ``_stats``, so it is retried with back-off and
never acted on with ownership guessed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from esml_operator.elasticsearch.client import V8_11, ElasticsearchClient
from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.elasticsearch.models import ClusterInfo, ClusterSnapshot, InferenceEndpoints

logger = logging.getLogger(__name__)


def lists_inference_endpoints(info: ClusterInfo) -> bool:
    return info.version.at_least(*V8_11) or info.build_flavor == "serverless"


#: Seconds an endpoint list is kept at most when nothing in ``_stats`` says it changed.
MAX_AGE = 3600.0

_Deployments = frozenset[tuple[str, int | None]]  # (deployment id, start time)


@dataclass(frozen=True)
class _Listed:
    deployments: _Deployments
    endpoints: InferenceEndpoints
    at: float


def _deployments(snapshot: ClusterSnapshot) -> _Deployments:
    return frozenset((d.deployment_id, d.start_time_ms) for d in snapshot.deployments.values())


def _no_expiry(client: ElasticsearchClient) -> None:
    pass


class Poller:
    """Polls clusters, keeping each one's last endpoint list and ML nodes (keyed by the client's base URL)."""

    def __init__(
        self,
        *,
        max_age: float = MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
        expire_info: Callable[[ElasticsearchClient], None] = _no_expiry,
    ) -> None:
        """``expire_info(client)``: the cluster's ML nodes changed, read its ``GET /`` again."""
        self._max_age, self._clock, self._expire_info = max_age, clock, expire_info
        self._listed: dict[str, _Listed] = {}
        self._members: dict[str, dict[str, tuple[str, str]]] = {}  # node id -> (ephemeral id, version)

    def forget_endpoints(self, client: ElasticsearchClient) -> None:
        """The operator changed an endpoint: list again at the next poll."""
        self._listed.pop(str(client.base_url), None)

    async def poll(self, client: ElasticsearchClient, info: ClusterInfo) -> ClusterSnapshot:
        snapshot = await client.stats_snapshot()
        key = str(client.base_url)
        self._check_members(client, key, snapshot.members)
        if not lists_inference_endpoints(info):
            return snapshot
        deployments = _deployments(snapshot)
        listed = self._listed.get(key)
        if listed is not None and listed.deployments == deployments and self._clock() - listed.at < self._max_age:
            return replace(snapshot, inference=listed.endpoints)
        try:
            endpoints = InferenceEndpoints(await client.get_inference_endpoints(version=info.version))
        except ElasticsearchError as error:
            if error.temporary:
                raise
            logger.info("%s: inference endpoints unknown: %s", client.base_url, error.message)
            endpoints = InferenceEndpoints(problem=error.message)
        self._listed[key] = _Listed(deployments, endpoints, self._clock())
        return replace(snapshot, inference=endpoints)

    def _check_members(self, client: ElasticsearchClient, key: str, members: frozenset[tuple[str, str, str]]) -> None:
        """Expire ``GET /`` when a node seen before restarted (or changed version), or when every node differs
        (another cluster). Deployments moving to a node not seen before, or off one, are no reason."""
        now = {node: (ephemeral, version) for node, ephemeral, version in members}
        before = self._members.get(key)
        if now:
            self._members[key] = now
        if not before or not now:
            return
        common = before.keys() & now.keys()
        if not common or any(before[node] != now[node] for node in common):
            logger.info("%s: the ML nodes changed; reading the cluster's version and identity again", client.base_url)
            self._expire_info(client)
