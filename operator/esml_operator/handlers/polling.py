"""One poll of one Elasticsearch cluster: ``_stats`` of every deployment, then every inference endpoint.

The :class:`~.snapshots.SnapshotCache` runs it at most once per cluster per
interval and shares the result, so the endpoint list costs one request per
poll, never one per resource. ``GET _inference/_all`` is sent only to clusters
that have the API (8.11+). A permanent refusal of the listing (a 403 without
``monitor_inference``, or a cluster without the inference plugin) does not fail
the poll: the snapshot records that ownership is unknown, and the resources
fall back to the trained-model APIs. A temporary failure (timeout, 5xx, 429)
fails the poll like a failed ``_stats``, so it is retried with back-off and
never acted on with ownership guessed.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from esml_operator.elasticsearch.client import V8_11, ElasticsearchClient
from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.elasticsearch.models import ClusterInfo, ClusterSnapshot, InferenceEndpoints

logger = logging.getLogger(__name__)


def lists_inference_endpoints(info: ClusterInfo) -> bool:
    return info.version.at_least(*V8_11) or info.build_flavor == "serverless"


async def poll(client: ElasticsearchClient, info: ClusterInfo) -> ClusterSnapshot:
    snapshot = await client.stats_snapshot()
    if not lists_inference_endpoints(info):
        return snapshot
    try:
        endpoints = await client.get_inference_endpoints(version=info.version)
    except ElasticsearchError as error:
        if error.temporary:
            raise
        logger.info("%s: inference endpoints unknown: %s", client.base_url, error.message)
        return replace(snapshot, inference=InferenceEndpoints(problem=error.message))
    return replace(snapshot, inference=InferenceEndpoints(endpoints))
