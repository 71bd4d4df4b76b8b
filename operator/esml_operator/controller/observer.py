"""What one pass knows about its resource's Elasticsearch: connection, claim, snapshot, recent changes.

Every failure becomes a field of the :class:`Observation` (never an
exception): the pure ``decide`` turns it into conditions.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial

from esml_operator.controller import connect, logcontext, timing
from esml_operator.controller.capacity_facts import CapacityFacts
from esml_operator.controller.changes import ChangeLog
from esml_operator.controller.memory import Connection, Entry, Observed
from esml_operator.controller.polling import MAX_AGE, Poller
from esml_operator.controller.snapshots import SnapshotCache, Taken
from esml_operator.controller.workqueue import preemptible
from esml_operator.elasticsearch.connections import ConnectionConfig, ConnectionPool
from esml_operator.elasticsearch.errors import AuthenticationError, AuthorizationError, ElasticsearchError
from esml_operator.elasticsearch.models import ClusterInfo
from esml_operator.kube.api import KubeApi
from esml_operator.reconcile import (
    ActionFailure,
    Claimant,
    ClaimIndex,
    ConfigProblem,
    ModelDeploymentSpec,
    Observation,
    RecentAction,
    ownership,
    shortfall,
)
from esml_operator.settings import Settings


def cluster_identity(info: ClusterInfo, endpoint: str) -> str:
    """The cluster's own identity (``cluster_uuid``), so two URLs of one cluster are one cluster."""
    return f"uuid:{info.cluster_uuid}" if info.cluster_uuid and info.cluster_uuid != "_na_" else f"url:{endpoint}"


def _claimant(entry: Entry) -> Claimant:
    status = entry.body.get("status")
    conditions = status.get("conditions", []) if isinstance(status, dict) else []
    in_conflict = any(c.get("type") == "Stalled" and c.get("reason") == "DeploymentConflict" for c in conditions)
    return Claimant(
        uid=entry.uid,
        created=str(entry.meta.get("creationTimestamp", "")),
        reported_in_conflict=in_conflict,
        deleting=bool(entry.meta.get("deletionTimestamp")),
    )


def _partial(
    entry: Entry,
    selector: str,
    *,
    failure: ActionFailure | None = None,
    cluster: ClusterInfo | None = None,
    fetch_error: ElasticsearchError | None = None,
    config_problem: ConfigProblem | None = None,
) -> Observation:
    """An observation that stopped before the snapshot."""
    return Observation(
        cluster,
        None,
        None,
        fetch_error,
        config_problem,
        entry.last_assignment,
        failure,
        selector=selector,
        failed_polls=entry.failed_polls,
    )


class Observer:
    def __init__(
        self,
        settings: Settings,
        kube: KubeApi,
        pool: ConnectionPool,
        snapshots: SnapshotCache,
        claims: ClaimIndex,
        changes: ChangeLog,
        names: dict[str, str],
        poller: Poller | None = None,
    ) -> None:
        self.settings, self.kube, self.pool = settings, kube, pool
        self.snapshots, self.claims, self.changes = snapshots, claims, changes
        max_age = max(MAX_AGE, 10 * settings.resync_interval)
        self.poller = poller or Poller(max_age=max_age, expire_info=pool.expire_info)
        self.capacity = CapacityFacts(interval=settings.resync_interval)
        self._names = names  # uid -> namespace/name, for conflict messages
        self._round_started = self._previous_round_started = float("-inf")

    async def observe(
        self,
        entry: Entry,
        spec: ModelDeploymentSpec | None,
        *,
        fresh: bool = False,
        fallback: ConnectionConfig | None = None,
    ) -> Observed:
        """``fresh``: re-read Secrets and poll now. ``fallback``: the connection to use when the current spec's
        cannot be resolved (a deletion whose Secret is already gone still stops the deployment)."""
        namespace, name = str(entry.meta.get("namespace", "")), str(entry.meta.get("name", ""))
        selector = connect.selector_for(spec, name)
        if spec is None:
            return Observed(_partial(entry, selector, failure=entry.failure))
        with timing.stage("connect"):
            resolved = await connect.resolve(spec, namespace, self.kube, self.settings, fresh=fresh)
        if isinstance(resolved, ConfigProblem) and fallback is not None:
            resolved = connect.Resolved(fallback, ())
        if isinstance(resolved, ConfigProblem):
            self.claims.release(entry.uid)
            unresolved = _partial(entry, selector, failure=entry.failure, config_problem=resolved)
            return Observed(unresolved, connection=Connection(None))
        # A referenced Secret changed: the last failure is forgotten, so the action is retried at once.
        changed = entry.secrets_fingerprint not in (None, resolved.secrets_fingerprint) and entry.failure is not None
        failure = None if changed else entry.failure
        config = resolved.config
        connection = Connection(config, resolved.secrets_fingerprint, changed)
        logcontext.bind_cluster(config.endpoint)
        try:
            with timing.stage("connect"):
                client, info = await self.pool.connect(config, owner=entry.uid)
        except ElasticsearchError as error:
            self._after_refusal(error, resolved)
            return Observed(_partial(entry, selector, failure=failure, fetch_error=error), connection=connection)
        key = (cluster_identity(info, config.endpoint), spec.deployment_id)
        holder = self.claims.claim(key, _claimant(entry))
        if holder is not None:
            problem = ConfigProblem(
                "DeploymentConflict",
                f"deployment [{spec.deployment_id}] on this Elasticsearch cluster ({config.endpoint}) is already "
                f"managed by ModelDeployment {self._names.get(holder, holder)}; give this resource another "
                "deploymentId",
            )
            conflict = _partial(entry, selector, failure=failure, cluster=info, config_problem=problem)
            return Observed(conflict, connection=connection)
        recent, acted = self.changes.recent(key), self.changes.recent_monotonic(key)
        newer_than = time.monotonic() if fresh else self._newer_than(entry, recent, acted)
        taken: Taken | None = None
        error_seen: ElasticsearchError | None = None
        try:
            with timing.stage("poll"), preemptible():  # a newer change of this resource need not wait for it
                poll = partial(self.poller.poll, client, info)
                taken = await self.snapshots.get(config.key, poll, newer_than=newer_than)
        except ElasticsearchError as error:
            error_seen = error
            self._after_refusal(error, resolved)
        owner, users, unknown = ownership(taken.snapshot if taken else None, spec.deployment_id)
        observation = Observation(
            cluster=info,
            snapshot=taken.snapshot if taken else None,
            snapshot_at=taken.at if taken else None,
            fetch_error=error_seen,
            config_problem=None,
            last_assignment=entry.last_assignment,
            last_failure=failure,
            selector=selector,
            recent=recent,
            throttle_wait=self.changes.throttle_wait(key),
            inference_endpoint=owner,
            inference_users=users,
            inference_unknown=unknown,
            failed_polls=entry.failed_polls,
        )
        if taken is not None and shortfall.wanted(observation, spec.deployment_id, entry.generation):
            facts = await self.capacity.get(config.key, client, info.version)
            observation = replace(observation, capacity=facts)
        return Observed(observation, client, info, key, connection)

    @property
    def round_started(self) -> float:
        """When the current resync round began (monotonic): its passes want a poll taken after it."""
        return self._round_started

    def new_round(self) -> None:
        """A resync round starts: every pass in it wants a poll taken after this moment (one per cluster)."""
        self._previous_round_started, self._round_started = self._round_started, time.monotonic()

    def _newer_than(self, entry: Entry, recent: RecentAction | None, acted: float | None) -> float:
        """How fresh the snapshot must be.

        A resync pass wants the current round's poll (drift is found within one interval). A spec change
        is acted on at once with the newest snapshot taken in this round or the last (the operator's own
        last answer, if newer, is the view): no poll stands between a change and Elasticsearch, not even
        the round's that has just begun (which may wait out ``min_poll_interval``). A pass that follows
        the operator's own change (same generation) verifies it with a poll taken after it; so does every
        pass after a stop, or an inference endpoint's ``_update``, which return nothing newer than a poll
        after them. After a failed poll the next pass (its back-off retry) wants a poll of its own, not the
        failure remembered for the round.
        """
        if entry.failed_polls:
            return time.monotonic()  # the last poll failed: its retry (backed off by decide) polls again
        verify = recent is not None and (recent.assignment is None or entry.generation == entry.passed_generation)
        if verify and acted is not None:
            return max(self._round_started, acted)
        if entry.generation != entry.passed_generation:
            return self._previous_round_started
        return self._round_started

    def _after_refusal(self, error: ElasticsearchError, resolved: connect.Resolved) -> None:
        """After a 401/403 the credentials are re-read at once (they may have been rotated)."""
        if isinstance(error, AuthenticationError | AuthorizationError):
            for ns, secret_name, _ in resolved.secrets:
                self.kube.forget_secret(ns, secret_name)
            self.pool.invalidate(resolved.config.key)
