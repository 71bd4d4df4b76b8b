"""The one place where Elasticsearch errors become kopf errors (for kopf-run handlers).

Only the deletion handler runs under kopf's retry machinery; the reconcile
passes do their own back-off in the pure layer. Deletion never gives up: a
finalizer released on a permanent error would leak a running deployment, so
permanent errors are retried slowly (every resync interval) and reported.
"""

from __future__ import annotations

import kopf

from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.reconcile import backoff_seconds


def to_kopf(error: ElasticsearchError, *, retry: int, resync_interval: float, jitter: float) -> kopf.TemporaryError:
    """A kopf ``TemporaryError`` with a delay: back-off for temporary errors, the resync interval otherwise."""
    delay = backoff_seconds(retry + 1, jitter) if error.temporary else resync_interval
    if error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return kopf.TemporaryError(f"{error.condition_reason}: {error}", delay=delay)
