"""The operator's runtime: a registry of resources, a resync loop, and reconcile passes.

kopf feeds watch events into :meth:`Runtime.observe`. A spec change (new
generation) reconciles that resource at once; the resync loop reconciles every
resource each ``resync_interval`` against one shared ``_stats`` snapshot per
Elasticsearch cluster. A reconcile pass is: fetch (connection, snapshot),
decide (pure), apply (at most one Elasticsearch action), report (status only
when it changed, events only for new things).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from esml_operator.elasticsearch.connections import ConnectionConfig, ConnectionPool
from esml_operator.elasticsearch.errors import AuthenticationError, AuthorizationError, ElasticsearchError
from esml_operator.elasticsearch.models import Assignment, ClusterInfo
from esml_operator.handlers import connect
from esml_operator.handlers.actions import apply_action
from esml_operator.handlers.kube import KubeApi
from esml_operator.handlers.snapshots import SnapshotCache, Taken
from esml_operator.reconcile import (
    ActionFailure,
    ConfigProblem,
    Observation,
    ResourceRef,
    SpecError,
    action_event,
    decide,
    parse_spec,
    with_action_applied,
)
from esml_operator.settings import Settings

logger = logging.getLogger(__name__)

KOPF_STATUS_KEY = "kopf"


@dataclass
class Entry:
    uid: str
    body: Mapping[str, Any]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    generation: int = 0
    cluster_key: str | None = None
    config: ConnectionConfig | None = None  # the last connection that resolved (kept for deletion)
    claim: tuple[str, str] | None = None  # (endpoint, deployment id) this resource manages
    claim_order: int = 0  # when this process first saw the claim (tie-break)
    secrets_fingerprint: str | None = None
    last_assignment: Assignment | None = None
    failure: ActionFailure | None = None
    jitter: float = 0.5  # drawn once per failure, so the planned retry moment stays put across passes
    acted_at: float = float("-inf")  # monotonic time of the last successful action
    timer: asyncio.TimerHandle | None = None
    due: float = float("inf")
    written_status: Mapping[str, Any] | None = None


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = body.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _in_conflict(body: Mapping[str, Any]) -> bool:
    status = body.get("status")
    conditions = status.get("conditions", []) if isinstance(status, Mapping) else []
    return any(c.get("type") == "Stalled" and c.get("reason") == "DeploymentConflict" for c in conditions)


def comparable_status(status: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of ``.status`` the operator owns (kopf keeps its own bookkeeping under ``kopf``)."""
    return {k: v for k, v in (status or {}).items() if k != KOPF_STATUS_KEY}


class Runtime:
    def __init__(self, settings: Settings, kube: KubeApi, pool: ConnectionPool) -> None:
        self.settings = settings
        self.kube = kube
        self.pool = pool
        self.snapshots = SnapshotCache(min_interval=settings.min_poll_interval)
        self.entries: dict[str, Entry] = {}
        self._semaphore = asyncio.Semaphore(settings.max_concurrent_reconciles)
        self._tasks: set[asyncio.Task[None]] = set()
        self._resync: asyncio.Task[None] | None = None
        self._closed = False
        self._claims_made = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._resync = asyncio.create_task(self._resync_loop(), name="esml-resync")

    async def close(self) -> None:
        self._closed = True
        tasks = [t for t in [self._resync, *self._tasks] if t is not None]
        for entry in self.entries.values():
            if entry.timer is not None:
                entry.timer.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.snapshots.close()
        await self.pool.aclose()
        await self.kube.aclose()

    # -- watch events -------------------------------------------------------------------------
    def observe(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = _meta(body)
        uid = str(meta.get("uid", ""))
        if not uid:
            return
        if event_type == "DELETED":
            self.forget(uid)
            return
        entry = self.entries.get(uid)
        generation = int(meta.get("generation") or 0)
        if entry is None:
            entry = self.entries[uid] = Entry(uid=uid, body=body)
            self.schedule(uid, 0.0)
        elif generation != entry.generation:
            self.schedule(uid, 0.0)
        entry.body = body
        if generation != entry.generation:
            entry.generation = generation
            if entry.failure is not None and entry.failure.generation != generation:
                entry.failure = None  # a spec change retries at once

    def _claim(self, entry: Entry, claim: tuple[str, str]) -> Entry | None:
        """Record that ``entry`` manages ``claim``; the other resource that holds it already, if any.

        The oldest resource (by creation time, then uid) wins, so the answer is the
        same whichever of them reconciles first, and after an operator restart.
        """
        if entry.claim != claim:
            entry.claim = claim
            self._claims_made += 1
            entry.claim_order = self._claims_made

        def age(e: Entry) -> tuple[str, bool, int, str]:
            # Creation time has second precision: on a tie, the resource that was not reported in conflict
            # (it held the deployment before a restart), then the one that claimed first, wins.
            return (str(_meta(e.body).get("creationTimestamp", "")), _in_conflict(e.body), e.claim_order, e.uid)

        rivals = [e for e in self.entries.values() if e.claim == claim and not _meta(e.body).get("deletionTimestamp")]
        if not rivals:
            return None
        holder = min(rivals, key=age)
        return None if holder is entry else holder

    def forget(self, uid: str) -> None:
        entry = self.entries.pop(uid, None)
        if entry is not None and entry.timer is not None:
            entry.timer.cancel()
        if entry is not None and entry.claim is not None:
            for other in self.entries.values():  # a conflicting resource may take over now
                if other.claim == entry.claim:
                    self.schedule(other.uid, 0.0)
        task = asyncio.create_task(self.pool.release(uid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- scheduling ---------------------------------------------------------------------------
    def schedule(self, uid: str, delay: float) -> None:
        """Reconcile ``uid`` after ``delay`` seconds (an earlier schedule wins)."""
        entry = self.entries.get(uid)
        if entry is None or self._closed:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + max(0.0, delay)
        if entry.timer is not None and entry.due <= due:
            return
        if entry.timer is not None:
            entry.timer.cancel()
        entry.due = due
        entry.timer = loop.call_at(due, self._spawn, uid)

    def _spawn(self, uid: str, newer_than: float | None = None) -> None:
        entry = self.entries.get(uid)
        if entry is not None:
            entry.timer, entry.due = None, float("inf")
        since = newer_than if newer_than is not None else time.monotonic() - self.settings.min_poll_interval
        task = asyncio.create_task(self.reconcile(uid, newer_than=since), name=f"reconcile-{uid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resync_loop(self) -> None:
        interval = self.settings.resync_interval
        while True:
            await asyncio.sleep(interval)
            started = time.monotonic()
            for uid in list(self.entries):
                self._spawn(uid, newer_than=started)
            live = {e.cluster_key for e in self.entries.values() if e.cluster_key}
            for key in self.snapshots.keys():  # noqa: SIM118 - a method, not a dict
                if key not in live:
                    self.snapshots.forget(key)

    # -- one pass -----------------------------------------------------------------------------
    async def reconcile(self, uid: str, *, newer_than: float) -> None:
        entry = self.entries.get(uid)
        if entry is None:
            return
        async with self._semaphore, entry.lock:
            if uid not in self.entries:
                return
            try:
                await self._reconcile(entry, newer_than)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Never crash, never hot-loop: log and retry at the next resync.
                logger.exception("reconcile of %s failed unexpectedly", self._name(entry.body))

    @staticmethod
    def _name(body: Mapping[str, Any]) -> str:
        meta = _meta(body)
        return f"{meta.get('namespace')}/{meta.get('name')}"

    async def _observe_es(
        self, entry: Entry, namespace: str, name: str, spec: Mapping[str, Any], newer_than: float
    ) -> tuple[Observation, Any, ClusterInfo | None]:
        """Connection, cluster info and snapshot for one resource; errors become observation fields."""
        config_problem: ConfigProblem | None = None
        fetch_error: ElasticsearchError | None = None
        client: Any = None
        info: ClusterInfo | None = None
        taken: Taken | None = None
        try:
            parsed = parse_spec(spec)
        except SpecError:
            parsed = None
        selector = connect.selector_for(parsed, name)
        if parsed is not None:
            resolved = await connect.resolve(parsed, namespace, self.kube, self.settings)
            if isinstance(resolved, ConfigProblem):
                config_problem = resolved
                entry.cluster_key = entry.claim = None
            elif (holder := self._claim(entry, (resolved.config.endpoint, parsed.deployment_id))) is not None:
                config_problem = ConfigProblem(
                    "DeploymentConflict",
                    f"deployment [{parsed.deployment_id}] on {resolved.config.endpoint} is already managed by "
                    f"ModelDeployment {self._name(holder.body)}; give this resource another deploymentId",
                )
            else:
                fingerprint = resolved.secrets_fingerprint
                if entry.secrets_fingerprint not in (None, fingerprint) and entry.failure is not None:
                    entry.failure = None  # a referenced Secret changed: retry at once
                entry.secrets_fingerprint = fingerprint
                key = resolved.config.key
                entry.cluster_key = key
                entry.config = resolved.config
                try:
                    client, info = await self.pool.connect(resolved.config, owner=entry.uid)
                    taken = await self.snapshots.get(
                        key, client.stats_snapshot, newer_than=max(newer_than, entry.acted_at)
                    )
                except ElasticsearchError as error:
                    fetch_error = error
                    if isinstance(error, AuthenticationError | AuthorizationError):
                        for ns, secret_name, _ in resolved.secrets:
                            self.kube.forget_secret(ns, secret_name)
                        self.pool.invalidate(key)
        observation = Observation(
            cluster=info,
            snapshot=taken.snapshot if taken else None,
            snapshot_at=taken.at if taken else None,
            fetch_error=fetch_error,
            config_problem=config_problem,
            last_assignment=entry.last_assignment,
            last_failure=entry.failure,
            selector=selector,
        )
        return observation, client, info

    async def _reconcile(self, entry: Entry, newer_than: float) -> None:
        body = entry.body
        meta = _meta(body)
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        if meta.get("deletionTimestamp"):
            return  # the deletion handler owns it now
        spec = body.get("spec") or {}
        ref = ResourceRef(namespace, name, int(meta.get("generation") or 0), entry.uid)
        observation, client, info = await self._observe_es(entry, namespace, name, spec, newer_than)
        previous = comparable_status(entry.written_status or body.get("status"))
        now = datetime.now(UTC)
        decision = decide(
            spec, ref, observation, previous, now,
            resync_interval=self.settings.resync_interval, jitter=entry.jitter,
        )  # fmt: skip
        status = decision.status
        events = list(decision.events)
        requeue = decision.requeue_after
        for action in decision.actions[:1]:
            assert client is not None and info is not None  # decide only acts on an observed cluster
            try:
                assignment = await apply_action(client, info.version, action)
            except ElasticsearchError as error:
                previous_failure = entry.failure
                attempts = (
                    previous_failure.attempts + 1 if previous_failure and previous_failure.action == action.kind else 1
                )
                entry.failure = ActionFailure(action.kind, error, now, attempts, ref.generation)
                entry.jitter = random.random()
                logger.warning("%s: %s failed: %s", self._name(body), action.kind, error)
                again = decide(
                    spec, ref, _with_failure(observation, entry.failure), previous, now,
                    resync_interval=self.settings.resync_interval, jitter=entry.jitter,
                )  # fmt: skip
                status, events, requeue = again.status, list(again.events), again.requeue_after
            else:
                entry.failure = None
                entry.acted_at = time.monotonic()
                if assignment is not None:
                    entry.last_assignment = assignment
                status = with_action_applied(status, now)
                events.append(action_event(action, assignment))
                logger.info("%s: %s", self._name(body), events[-1].message)
                requeue = min(requeue or self.settings.min_poll_interval, self.settings.min_poll_interval)
        if _worth_writing(status, previous, now, self.settings.status_heartbeat):
            removed = {k: None for k in previous if k not in status}
            await self.kube.patch_status(namespace, name, {**status, **removed})
            entry.written_status = status
        for event in events:
            await self.kube.post_event(body, type=event.type, reason=event.reason, message=event.message)
        if requeue is not None:
            self.schedule(entry.uid, requeue)


def _worth_writing(status: Mapping[str, Any], previous: Mapping[str, Any], now: datetime, heartbeat: float) -> bool:
    """Write when anything but ``lastSyncTime`` changed, or when the stored one is older than ``heartbeat``.

    So a steady resource costs one status write per heartbeat, not one per poll.
    """
    if status == previous:
        return False
    if {k: v for k, v in status.items() if k != "lastSyncTime"} != {
        k: v for k, v in previous.items() if k != "lastSyncTime"
    }:
        return True
    last = previous.get("lastSyncTime")
    if not isinstance(last, str):
        return True
    try:
        stored = datetime.fromisoformat(last.replace("Z", "+00:00"))
    except ValueError:
        return True
    return (now - stored).total_seconds() >= heartbeat


def _with_failure(observation: Observation, failure: ActionFailure) -> Observation:
    return replace(observation, last_failure=failure)
