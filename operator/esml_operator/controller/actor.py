"""Sending one planned action and recording its outcome (shared by reconcile and deletion passes)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import defaultdict
from datetime import UTC, datetime

from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.elasticsearch.models import EsVersion
from esml_operator.handlers import timing
from esml_operator.handlers.actions import apply_action
from esml_operator.handlers.changes import ChangeLog
from esml_operator.handlers.polling import Poller
from esml_operator.handlers.registry import Entry
from esml_operator.reconcile import Action, ActionFailure, ClaimKey, Failed, Outcome, Succeeded, UpdateInferenceEndpoint

logger = logging.getLogger(__name__)


class Actor:
    """Sends actions, at most ``limit`` at a time per Elasticsearch cluster (clusters never wait for each other)."""

    def __init__(self, changes: ChangeLog, *, limit: int, poller: Poller | None = None) -> None:
        self._changes, self._poller = changes, poller
        self._limits: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(limit))

    async def act(
        self, entry: Entry, client: ElasticsearchClient, version: EsVersion, action: Action, key: ClaimKey
    ) -> Outcome:
        try:
            with timing.stage("slot"):
                await self._limits[key[0]].acquire()
            try:
                timing.sent()
                with timing.stage("request"):
                    assignment = await apply_action(client, version, action)
            finally:
                self._limits[key[0]].release()
        except ElasticsearchError as error:
            previous = entry.failure
            attempts = previous.attempts + 1 if previous is not None and previous.action == action.kind else 1
            entry.failure = ActionFailure(action.kind, error, datetime.now(UTC), attempts, entry.generation)
            entry.jitter = random.random()
            logger.warning("%s: %s of deployment [%s] failed: %s", entry.name, action.kind, key[1], error)
            return Failed(entry.failure)
        entry.failure = None
        if assignment is not None:
            entry.last_assignment = assignment
        # An inference endpoint's _update is recorded like an update; it returns no assignment, so the next pass
        # waits for a poll newer than it (and can tell whether Elasticsearch applied it).
        self._changes.record(key, action.kind, assignment, datetime.now(UTC), action)
        if isinstance(action, UpdateInferenceEndpoint) and self._poller is not None:
            self._poller.forget_endpoints(client)
        return Succeeded(action, assignment)
