"""Sending one planned action and recording its outcome (shared by reconcile and deletion passes).

:func:`apply_action` is the thin "act" step: one planned action, one Elasticsearch call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime

from esml_operator.controller import timing
from esml_operator.controller.changes import ChangeLog
from esml_operator.controller.fence import Fence
from esml_operator.controller.memory import Entry, Observed
from esml_operator.controller.polling import Poller
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.elasticsearch.models import UNSET, Assignment, EsVersion
from esml_operator.reconcile import (
    Action,
    ActionFailure,
    Failed,
    Outcome,
    StartDeployment,
    StopDeployment,
    Succeeded,
    UpdateDeployment,
    UpdateInferenceEndpoint,
)

logger = logging.getLogger(__name__)


class Actor:
    """Sends actions, at most ``limit`` at a time per Elasticsearch cluster (clusters never wait for each other)."""

    def __init__(
        self, changes: ChangeLog, *, limit: int, poller: Poller | None = None, fence: Fence | None = None
    ) -> None:
        self._changes, self._poller, self._fence = changes, poller, fence or Fence()
        self._limits: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(limit))

    async def act(self, entry: Entry, observed: Observed, action: Action) -> Outcome:
        """Send ``action`` through the pass's connection. A failure is reported as a first attempt:
        :func:`.memory.remember` counts it against the previous one. Sent through the fence once a slot is
        free: :class:`~.fence.Deposed` when this replica no longer leads by then, or at its renew deadline."""
        client, info, key = observed.client, observed.info, observed.change_key
        assert client is not None and info is not None and key is not None, "acting needs a connected observation"
        version = info.version
        try:
            with timing.stage("slot"):
                await self._limits[key[0]].acquire()
            try:
                async with self._fence.send(f"{action.kind} of deployment [{key[1]}]"):
                    timing.sent()
                    with timing.stage("request"):
                        assignment = await apply_action(client, version, action)
            finally:
                self._limits[key[0]].release()
        except ElasticsearchError as error:
            logger.warning("%s: %s of deployment [%s] failed: %s", entry.name, action.kind, key[1], error)
            return Failed(ActionFailure(action.kind, error, datetime.now(UTC), 1, entry.generation))
        # An inference endpoint's _update is recorded like an update; it returns no assignment, so the next pass
        # waits for a poll newer than it (and can tell whether Elasticsearch applied it).
        self._changes.record(key, action.kind, assignment, datetime.now(UTC), action)
        if isinstance(action, UpdateInferenceEndpoint) and self._poller is not None:
            self._poller.forget_endpoints(client)
        return Succeeded(action, assignment)


async def apply_action(client: ElasticsearchClient, version: EsVersion, action: Action) -> Assignment | None:
    """Run ``action``; the resulting assignment for start/update, ``None`` for stop and for an inference
    endpoint's ``_update`` (which answers with the endpoint's stored configuration, not an assignment)."""
    if isinstance(action, StartDeployment):
        return await client.start_deployment(
            action.model_id,
            version=version,
            deployment_id=action.deployment_id,
            number_of_allocations=action.number_of_allocations,
            threads_per_allocation=action.threads_per_allocation,
            queue_capacity=action.queue_capacity,
            cache_size=action.cache_size,
            priority=action.priority,
            adaptive_allocations=action.adaptive,
            wait_for="starting",
        )
    if isinstance(action, UpdateDeployment):
        return await client.update_deployment(
            action.deployment_id,
            version=version,
            number_of_allocations=action.number_of_allocations,
            adaptive_allocations=action.adaptive if action.send_adaptive else UNSET,
        )
    if isinstance(action, UpdateInferenceEndpoint):
        update = action.update
        await client.update_inference_endpoint(
            action.task_type,
            action.inference_id,
            version=version,
            num_allocations=update.number_of_allocations,
            adaptive_allocations=update.adaptive if update.send_adaptive and update.adaptive else UNSET,
        )
        return None
    if isinstance(action, StopDeployment):
        await client.stop_deployment(action.deployment_id, force=action.force)
        return None
    raise TypeError(f"unknown action {action!r}")
