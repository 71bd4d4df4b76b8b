"""The HTTP endpoints the operator serves besides kopf's liveness probe: metrics, and the external metrics API.

``/metrics`` is served by every replica; a port that cannot be bound is logged
as an error and the operator runs on without it (metrics are not worth a crash
loop). The external metrics API is opt-in (``--external-metrics``), so failing
to serve it stops the operator. With it, the leader labels its own pod
``esml.io/leader=true`` (the others ``false``), so that the API's Service
reaches only the replica that has the inference load.
"""

from __future__ import annotations

import asyncio
import logging
import os
import urllib.parse
from typing import Any

from esml_operator.kube.pods import PodLabels
from esml_operator.metrics.external import GROUP_VERSION, ExternalMetricsApi, load_trust, server_context
from esml_operator.metrics.http import HttpServer, metrics_app
from esml_operator.metrics.memory import MemoryWatch
from esml_operator.metrics.prometheus import Metrics
from esml_operator.settings import Settings

logger = logging.getLogger(__name__)

LEADER_LABEL = "esml.io/leader"


class LeaderPodLabel:
    """Keeps ``esml.io/leader`` on this replica's pod equal to its leadership (the latest wish wins)."""

    def __init__(self, api_client: Any, pod: str, namespace: str, *, retry: float = 2.0) -> None:
        self._pods = PodLabels(api_client)
        self._pod, self._namespace, self._retry = pod, namespace, retry
        self._wanted: bool | None = None
        self._task: asyncio.Task[None] | None = None

    def set(self, leading: bool) -> None:
        self._wanted = leading
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._apply(), name="esml-leader-label")

    async def _apply(self) -> None:
        applied: bool | None = None
        while applied != self._wanted:
            wanted = self._wanted
            try:
                await self._pods.set(self._namespace, self._pod, {LEADER_LABEL: "true" if wanted else "false"})
            except Exception as error:  # keep trying: the Service must follow the leader
                logger.warning("could not label pod %s/%s %s: %s", self._namespace, self._pod, LEADER_LABEL, error)
                await asyncio.sleep(self._retry)
                continue
            applied = wanted
            logger.info("labelled pod %s/%s %s=%s", self._namespace, self._pod, LEADER_LABEL, str(wanted).lower())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


def _host_port_path(url: str) -> tuple[str, int, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "0.0.0.0", int(parts.port or 0), parts.path


class Servers:
    def __init__(self, settings: Settings, metrics: Metrics, api_client: Any) -> None:
        self._settings, self._metrics, self._api_client = settings, metrics, api_client
        self._running: list[HttpServer] = []
        self.memory = MemoryWatch(metrics.resources)
        self.label: LeaderPodLabel | None = None
        pod, namespace = os.environ.get("POD_NAME"), os.environ.get("POD_NAMESPACE")
        if settings.external_metrics and pod and namespace:
            self.label = LeaderPodLabel(api_client, pod, namespace)

    def leadership_changed(self, leading: bool) -> None:
        if self.label is not None:
            self.label.set(leading)

    async def start(self, leading: Any) -> None:
        self.memory.start()
        settings = self._settings
        if settings.metrics_endpoint:
            host, port, path = _host_port_path(settings.metrics_endpoint)
            server = HttpServer(metrics_app(self._metrics.registry, path or "/metrics"), host, port, what="metrics")
            try:
                await server.start()
            except OSError as error:
                logger.error("cannot serve metrics on %s: %s; running without them", settings.metrics_endpoint, error)
            else:
                self._running.append(server)
        if settings.external_metrics:
            trust = await load_trust(
                settings.requestheader_client_ca_file, settings.requestheader_allowed_names, self._api_client
            )
            api = ExternalMetricsApi(self._metrics.loads, leading=leading, allowed_names=trust.allowed_names)
            context = server_context(settings.external_metrics_cert_file, settings.external_metrics_key_file, trust)
            host, port, _ = _host_port_path(settings.external_metrics_endpoint)
            external = HttpServer(api.app(), host, port, what=GROUP_VERSION, ssl_context=context)
            await external.start()
            self._running.append(external)
            if self.label is None:
                logger.info("POD_NAME/POD_NAMESPACE not set: the leader does not label its pod %s", LEADER_LABEL)

    async def stop(self) -> None:
        await self.memory.stop()
        if self.label is not None:
            await self.label.close()
        for server in reversed(self._running):
            await server.stop()
        self._running.clear()
