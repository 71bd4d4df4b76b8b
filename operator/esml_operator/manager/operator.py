"""Building the runtime's objects from the settings, once, at start-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from esml_operator.controller.actor import Actor
from esml_operator.controller.changes import ChangeLog
from esml_operator.controller.deleter import Deleter, FinalizerKeeper
from esml_operator.controller.fence import Fence
from esml_operator.controller.observer import Observer
from esml_operator.controller.quiet import QuietCheck
from esml_operator.controller.reconciler import Reconciler
from esml_operator.controller.registry import Registry
from esml_operator.controller.runtime import Runtime
from esml_operator.controller.snapshots import SnapshotCache
from esml_operator.controller.sweep import Sweeper
from esml_operator.controller.writer import StatusWriter
from esml_operator.elasticsearch.connections import ConnectionPool
from esml_operator.kube.api import KubeApi
from esml_operator.metrics.prometheus import Metrics
from esml_operator.reconcile import ClaimIndex
from esml_operator.settings import Settings

#: Seconds a stopping operator spends posting the Events its last passes decided.
EVENTS_AT_SHUTDOWN = 5.0


@dataclass
class Operator:
    """Everything the kopf handlers need, and how to close it."""

    runtime: Runtime
    reconciler: Reconciler
    writer: StatusWriter
    snapshots: SnapshotCache
    pool: ConnectionPool
    kube: KubeApi
    metrics: Metrics

    def stopped_leading(self) -> None:
        """Leadership lost: cancel every pass under way and every poll they shared (a deposed leader sends nothing
        more; a shared poll would otherwise go on to its next request on its own)."""
        self.runtime.stopped_leading()
        self.snapshots.cancel_polls()
        self.writer.events.cancel()

    async def flush_events(self) -> None:
        """Shutdown, before leadership is handed over: post the Events the last passes decided."""
        await self.writer.events.flush(EVENTS_AT_SHUTDOWN)

    async def close(self) -> None:
        await self.runtime.close()
        await self.writer.events.close(within=EVENTS_AT_SHUTDOWN)
        self.snapshots.close()
        await self.pool.aclose()
        await self.kube.aclose()


def build(
    settings: Settings,
    kube: KubeApi,
    pool: ConnectionPool,
    *,
    fence: Fence | None = None,
    autoscalers: Callable[[str, str], Awaitable[tuple[str, ...]]] | None = None,
) -> Operator:
    """``fence``: every write goes through it (default: always leading, no deadline).
    ``autoscalers(namespace, name)`` names the HPAs that target a resource (``AutoscalerConflict``)."""
    fence = fence or Fence()
    claims, names = ClaimIndex(), dict[str, str]()
    snapshots = SnapshotCache(min_interval=settings.min_poll_interval, max_backoff=settings.resync_interval)
    changes = ChangeLog(
        burst=settings.action_burst, rate=settings.action_rate, ttl=max(60.0, 2 * settings.resync_interval)
    )
    writer = StatusWriter(kube, heartbeat=settings.status_heartbeat, fence=fence)
    registry = Registry()
    metrics = Metrics(registry, snapshots)
    pool.request_observer = metrics.request_observer
    metrics.status_writes = lambda: writer.writes
    metrics.events_dropped = lambda: writer.events.dropped
    observer = Observer(settings, kube, pool, snapshots, claims, changes, names)
    actor = Actor(changes, limit=settings.max_concurrent_reconciles, poller=observer.poller, fence=fence)
    keeper = FinalizerKeeper(kube, writer)
    reconciler = Reconciler(
        settings,
        observer,
        actor,
        writer,
        keeper,
        Deleter(settings, observer, actor, writer, keeper),
        recorder=metrics,
        autoscalers=autoscalers,
        quiet=QuietCheck(
            observer,
            heartbeat=settings.status_heartbeat,
            resync_interval=settings.resync_interval,
            autoscalers=autoscalers,
        ),
    )
    tasks: set[asyncio.Task[None]] = set()

    def release_client(uid: str) -> None:
        task = asyncio.create_task(pool.release(uid))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def drop_unused_snapshots(registry: Registry) -> None:
        live = {entry.cluster_key for entry in registry if entry.cluster_key}
        for key in snapshots.keys():  # noqa: SIM118 - a method, not a dict
            # A pass remembers its cluster when it ends: a poll under way is some pass's (a first one's).
            if key not in live and not snapshots.busy(key):
                snapshots.forget(key)
        metrics.keep_endpoints(entry.config.endpoint for entry in registry if entry.cluster_key and entry.config)

    runtime = Runtime(
        run_pass=reconciler.run,
        claims=claims,
        names=names,
        resync_interval=settings.resync_interval,
        leading=fence.leading,
        on_forget=release_client,
        on_resync=drop_unused_snapshots,
        on_round=observer.new_round,
        recorder=metrics,
        registry=registry,
        catch_up_limit=settings.catch_up_passes,
        sweeper=Sweeper(reconciler.resync),
    )
    return Operator(runtime, reconciler, writer, snapshots, pool, kube, metrics)
