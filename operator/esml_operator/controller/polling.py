"""One poll of one Elasticsearch cluster: ``_stats`` of every deployment, and the inference endpoints.

The :class:`~.snapshots.SnapshotCache` runs it at most once per cluster per
interval and shares the result, never once per resource. What the operator
reads from an endpoint (its id, task type, service, threads and model) only
changes when the endpoint is recreated, so the list is not fetched on every
poll: :class:`Poller` re-lists when the set of deployments in ``_stats``
changed (an endpoint was created or deleted with its deployment), when the
operator itself changed an endpoint, and at least every ``max_age`` seconds.
A steady cluster costs one request per resync interval. ``GET _inference/_all`` is sent only to clusters
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


@dataclass(frozen=True)
class _Listed:
    deployments: frozenset[str]
    endpoints: InferenceEndpoints
    at: float


class Poller:
    """Polls clusters, keeping each one's last endpoint list (keyed by the client's base URL)."""

    def __init__(self, *, max_age: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age, self._clock = max_age, clock
        self._listed: dict[str, _Listed] = {}

    def forget_endpoints(self, client: ElasticsearchClient) -> None:
        """The operator changed an endpoint: list again at the next poll."""
        self._listed.pop(str(client.base_url), None)

    async def poll(self, client: ElasticsearchClient, info: ClusterInfo) -> ClusterSnapshot:
        snapshot = await client.stats_snapshot()
        if not lists_inference_endpoints(info):
            return snapshot
        key, deployments = str(client.base_url), frozenset(snapshot.deployments)
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
