"""kopf registration: watch ModelDeployments, run the runtime, elect a leader, report liveness.

kopf is used for login, watching (``on.event``), start-up, clean-up and the
liveness endpoint. Finalizers, status and events are the operator's own (see
:mod:`esml_operator.controller.deleter`), so that only the elected leader writes anything.

The registry is explicit (no import-time side effects on kopf's default
registry), so tests can run the operator in-process with ``KopfRunner``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import kopf

from esml_operator.controller.autoscalers import AutoscalerIndex
from esml_operator.controller.fence import Fence
from esml_operator.elasticsearch.connections import ConnectionPool
from esml_operator.kube.api import GROUP, PLURAL, VERSION, KubernetesApi
from esml_operator.kube.autoscalers import HorizontalPodAutoscalers
from esml_operator.kube.config import Source, connection_source, load_api_client
from esml_operator.leaderelection.elector import LeaderElector, elector_from_settings
from esml_operator.manager.eventloop import loop_name
from esml_operator.manager.incluster import login_in_cluster
from esml_operator.manager.operator import Operator, build
from esml_operator.metrics.prometheus import LeaderState
from esml_operator.metrics.servers import Servers
from esml_operator.settings import Settings

logger = logging.getLogger(__name__)


class Unhealthy(Exception):
    """Raised by the liveness probe: kopf then answers 500 and Kubernetes restarts the pod."""


class Leadership:
    """Leader election, or a stand-in that always leads (``--no-leader-election``)."""

    def __init__(self) -> None:
        self.elector: LeaderElector | None = None
        self.task: asyncio.Task[None] | None = None

    def leading(self) -> bool:
        return self.elector is None or self.elector.is_leader

    def left(self) -> float | None:
        """Seconds before the renew deadline (the fence's deadline for every write); None without election."""
        return None if self.elector is None else self.elector.lease_left()

    def alive(self) -> bool:
        return self.elector is None or self.elector.leader_alive()

    def state(self) -> LeaderState | None:
        """For the metrics; None without leader election (a single replica always acts)."""
        if self.elector is None:
            return None
        elector = self.elector
        return LeaderState(elector.is_leader, elector.transitions, elector.lease_transitions)

    async def release(self) -> None:
        if self.elector is not None:
            await self.elector.release()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


def build_registry(operator_settings: Settings) -> kopf.OperatorRegistry:
    """All handlers, bound to ``operator_settings`` (also usable from ``KopfRunner``, which has no memo)."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # The one precedence the operator's own client follows too (kube/config.py).
        source = connection_source(operator_settings.kubeconfig)
        if source is Source.KUBECONFIG:
            os.environ["KUBECONFIG"] = operator_settings.kubeconfig or ""
        elif source is Source.SERVICE_ACCOUNT:
            return login_in_cluster(kwargs)
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure_kopf(settings)
        api_client = await load_api_client(operator_settings)
        kube = KubernetesApi(api_client, secret_ttl=operator_settings.resync_interval)
        leadership = Leadership()
        hpas = AutoscalerIndex(
            HorizontalPodAutoscalers(api_client).scale_targets, ttl=operator_settings.resync_interval
        )
        operator = build(
            operator_settings, kube, ConnectionPool(), fence=Fence(leadership.left), autoscalers=hpas.targeting
        )
        operator.metrics.event_loop = loop = loop_name(asyncio.get_running_loop())
        logger.info("running on the %s event loop (--event-loop %s)", loop, operator_settings.event_loop)
        memo.servers = servers = Servers(operator_settings, operator.metrics, api_client)

        def started_leading() -> None:
            operator.runtime.started_leading()
            servers.leadership_changed(True)

        def stopped_leading() -> None:
            operator.stopped_leading()
            servers.leadership_changed(False)

        if operator_settings.leader_election:
            leadership.elector = elector_from_settings(
                operator_settings, api_client, on_started_leading=started_leading, on_stopped_leading=stopped_leading
            )
        operator.metrics.leader = leadership.state
        await servers.start(leadership.leading)
        if leadership.elector is None:
            servers.leadership_changed(True)
        operator.runtime.start()
        if leadership.elector is not None:
            leadership.task = asyncio.create_task(leadership.elector.run(), name="esml-leader")
        memo.operator, memo.leadership = operator, leadership

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        leadership: Leadership | None = getattr(memo, "leadership", None)
        operator: Operator | None = getattr(memo, "operator", None)
        if operator is not None:
            await operator.flush_events()  # still leading: what the last passes decided is said
        if leadership is not None:
            await leadership.release()  # first stop acting, then hand the Lease over
        servers: Servers | None = getattr(memo, "servers", None)
        if servers is not None:
            await servers.stop()
        if operator is not None:
            await operator.close()

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def on_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        memo.operator.metrics.observe_watch_event(type)
        memo.operator.runtime.observe(type, dict(body))

    @kopf.on.probe(id="runtime", registry=registry)
    def probe(memo: kopf.Memo, **_: Any) -> dict[str, Any]:
        operator: Operator = memo.operator
        leadership: Leadership = memo.leadership
        if not operator.runtime.healthy():
            raise Unhealthy("the resync loop has stopped")
        if not leadership.alive():
            raise Unhealthy("the leader-election loop has stopped")
        return {"leader": leadership.leading(), "resources": len(operator.runtime.registry)}

    return registry


class NoDiffBase(kopf.DiffBaseStorage):
    """kopf's change detection turned off: with only ``on.event`` handlers nothing reads its diff.

    kopf's default storage deep-copies every event's body (status included) to build the "essence" it
    diffs for ``on.create``/``on.update`` handlers. That was about half of kopf's CPU per watch event on
    the latency path (``python -m bench --only 1 --profile DIR``). Returning no essence makes the diff
    empty; nothing is stored on the object either.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> Any:
        return None

    def fetch(self, *, body: kopf.Body) -> None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: Any) -> None:
        return None


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """kopf only watches: the operator writes status, events and its finalizer itself."""
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.enabled = False  # the operator posts its own, de-duplicated events
    settings.peering.standalone = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
