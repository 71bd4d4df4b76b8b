"""A resync pass that ends before ``decide`` because nothing its resource's last pass saw has changed.

With thousands of steady resources, almost every resync pass finds what the one before it found, and deciding
again gives the same status, which is then not written. When a full pass ends quietly (no action, no failure,
no problem, nothing to come back for, Ready), the entry keeps a :class:`~.memory.Quiet` mark of what it saw. The
next resync pass of that resource takes the round's poll of its cluster (the same one poll per cluster that every
pass shares), and if the resource version, the Secrets, the cluster, the deployment's stats (without the load
figures, which only the metrics read), its inference ownership and the autoscalers that target it are all as
marked, it ends with outcome ``unchanged``. Anything else, including a failure to tell, runs the full pass.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from esml_operator.controller import connect, timing
from esml_operator.controller.memory import Entry, Observed, Quiet, generation_of
from esml_operator.controller.observer import Observer
from esml_operator.controller.workqueue import preemptible
from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.elasticsearch.models import ClusterSnapshot, DeploymentStats
from esml_operator.reconcile import ModelDeploymentSpec, ownership
from esml_operator.reconcile.timeutil import parse_time

#: Every field of a deployment's stats but its load figures (which only the metrics read), as one tuple.
_STEADY = operator.attrgetter(*(field.name for field in dataclasses.fields(DeploymentStats) if field.name != "load"))


def view_digest(snapshot: ClusterSnapshot, deployment_id: str) -> int:
    """What a pass reads of ``snapshot`` for ``deployment_id``, as one number (equal views, equal numbers)."""
    stats = snapshot.deployments.get(deployment_id)
    return hash((_STEADY(stats) if stats is not None else None, ownership(snapshot, deployment_id)))


def _version(entry: Entry) -> tuple[str, int]:
    return str(entry.meta.get("resourceVersion", "")), generation_of(entry.body)


def _ready(status: Mapping[str, Any]) -> bool:
    conditions = status.get("conditions")
    return isinstance(conditions, list) and any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
    )


def mark(
    version: tuple[str, int],
    observed: Observed,
    status: Mapping[str, Any],
    *,
    acted: bool,
    requeue: float | None,
    id: str,
) -> Quiet | None:
    """The mark a full pass of deployment ``id`` leaves when it ended quietly, else ``None``. Pure.

    ``version``: the resource version and generation of the body the pass decided on."""
    observation, connection = observed.observation, observed.connection
    if acted or requeue is not None or not version[0] or not _ready(status):
        return None
    if observation.snapshot is None or observation.fetch_error is not None or observation.config_problem is not None:
        return None
    if observation.last_failure is not None or observation.capacity is not None or observation.failed_polls:
        return None
    if connection is None or connection.config is None or observed.info is None:
        return None
    return Quiet(
        resource_version=version[0],
        generation=version[1],
        secrets_fingerprint=connection.secrets_fingerprint,
        config=connection.config,
        info=observed.info,
        view=view_digest(observation.snapshot, id),
        autoscalers=observation.autoscalers,
    )


class QuietCheck:
    """Whether a resource's resync pass may end as ``unchanged`` (see the module's docstring)."""

    def __init__(
        self,
        observer: Observer,
        *,
        heartbeat: float,
        resync_interval: float,
        autoscalers: Callable[[str, str], Awaitable[tuple[str, ...]]] | None = None,
    ) -> None:
        self._observer, self._autoscalers = observer, autoscalers
        self._heartbeat, self._resync_interval = heartbeat, resync_interval

    async def unchanged(self, entry: Entry, spec: ModelDeploymentSpec, now: datetime) -> bool:
        quiet = entry.quiet
        if quiet is None or _version(entry) != (quiet.resource_version, quiet.generation):
            return False
        if self._heartbeat_due(entry, now):
            return False
        namespace, name = str(entry.meta.get("namespace", "")), str(entry.meta.get("name", ""))
        observer = self._observer
        try:
            with timing.stage("connect"):
                resolved = await connect.resolve(spec, namespace, observer.kube, observer.settings)
                if isinstance(resolved, connect.Resolved):
                    if resolved.secrets_fingerprint != quiet.secrets_fingerprint:
                        return False
                    client, info = await observer.pool.connect(quiet.config, owner=entry.uid)
            if not isinstance(resolved, connect.Resolved) or info != quiet.info:
                return False
            with timing.stage("poll"), preemptible():
                poll = partial(observer.poller.poll, client, info)
                taken = await observer.snapshots.get(quiet.config.key, poll, newer_than=observer.round_started)
        except ElasticsearchError:
            return False  # the full pass reports it (the failed poll is shared: it is not sent twice)
        if view_digest(taken.snapshot, spec.deployment_id) != quiet.view:
            return False
        if self._autoscalers is None:
            return True
        return await self._autoscalers(namespace, name) == quiet.autoscalers

    def _heartbeat_due(self, entry: Entry, now: datetime) -> bool:
        """With ``--status-heartbeat``, the full pass that rewrites ``lastSyncTime`` runs in the round it is due."""
        if self._heartbeat <= 0:
            return False
        stored = parse_time(entry.stored_status.get("lastSyncTime"))
        return stored is None or (now - stored).total_seconds() + self._resync_interval >= self._heartbeat
