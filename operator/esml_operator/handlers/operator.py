"""kopf registration: watch ModelDeployments, stop deployments on delete (policy Stop), own lifecycle.

The registry is explicit (no import-time side effects on kopf's default
registry), so tests can run the operator in-process with ``KopfRunner``.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping
from typing import Any

import kopf

from esml_operator.elasticsearch.connections import ConnectionPool
from esml_operator.elasticsearch.errors import ElasticsearchError
from esml_operator.handlers.errors import to_kopf
from esml_operator.handlers.finalize import finalize
from esml_operator.handlers.kube import GROUP, PLURAL, VERSION, KubeApi, load_api_client
from esml_operator.handlers.runtime import Runtime
from esml_operator.settings import Settings

FINALIZER = "esml.io/stop-deployment"


def _wants_stop(spec: Mapping[str, Any], **_: Any) -> bool:
    return spec.get("deletionPolicy") == "Stop"


def build_registry(operator_settings: Settings) -> kopf.OperatorRegistry:
    """All handlers, bound to ``operator_settings`` (also usable from ``KopfRunner``, which has no memo)."""
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # --kubeconfig wins; else the in-cluster service account; else KUBECONFIG / ~/.kube/config.
        if operator_settings.kubeconfig:
            os.environ["KUBECONFIG"] = operator_settings.kubeconfig
            return kopf.login_with_kubeconfig(**kwargs)
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        configure_kopf(settings)
        kube = KubeApi(load_api_client(operator_settings), secret_ttl=operator_settings.resync_interval)
        runtime = Runtime(operator_settings, kube, ConnectionPool())
        runtime.start()
        memo.runtime = runtime

    @kopf.on.cleanup(registry=registry)
    async def cleanup(memo: kopf.Memo, **_: Any) -> None:
        runtime = getattr(memo, "runtime", None)
        if runtime is not None:
            await runtime.close()

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def on_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        memo.runtime.observe(type, dict(body))

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, when=_wants_stop, retries=None)
    async def stop_on_delete(body: kopf.Body, memo: kopf.Memo, retry: int, **_: Any) -> None:
        runtime: Runtime = memo.runtime
        try:
            await finalize(runtime, dict(body))
        except ElasticsearchError as error:
            raise to_kopf(
                error, retry=retry, resync_interval=runtime.settings.resync_interval, jitter=random.random()
            ) from error

    return registry


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """The operator writes only status and its finalizer: kopf keeps its bookkeeping in status.kopf."""
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.StatusProgressStorage(field="status.kopf.progress")
    settings.persistence.diffbase_storage = kopf.StatusDiffBaseStorage(field="status.kopf.lastHandledConfiguration")
    settings.posting.enabled = False  # the operator posts its own, de-duplicated events
    settings.peering.standalone = True
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.networking.request_timeout = 60
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
