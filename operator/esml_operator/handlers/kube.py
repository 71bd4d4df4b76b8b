"""The operator's own Kubernetes API calls: status patches, events, Secrets and Services.

kopf watches the resources; these are the few writes and reads the operator
makes itself. The official client is synchronous, so calls run in a bounded
thread pool. Secrets are cached per (namespace, name) for a short time and
shared by every resource that references them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import kubernetes

from esml_operator.settings import Settings

logger = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "esml.io", "v1alpha1", "modeldeployments"
COMPONENT = "esml-operator"


class KubeError(Exception):
    """A Kubernetes API call failed for a reason other than "not found"."""


@dataclass(frozen=True)
class SecretData:
    resource_version: str
    data: Mapping[str, bytes]


def load_api_client(settings: Settings) -> Any:
    """A ``kubernetes.client.ApiClient``: the configured kubeconfig, in-cluster, or the default kubeconfig."""
    config: Any = kubernetes.config
    if settings.kubeconfig:
        return config.new_client_from_config(config_file=settings.kubeconfig)
    try:
        config.load_incluster_config()
        return kubernetes.client.ApiClient()
    except config.ConfigException:
        return config.new_client_from_config()


class KubeApi:
    def __init__(self, api_client: Any, *, secret_ttl: float, threads: int = 8) -> None:
        self._api = api_client
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kube")
        self._secret_ttl = secret_ttl
        self._secrets: dict[tuple[str, str], tuple[float, SecretData | None]] = {}
        self._service_ports: dict[tuple[str, str], tuple[float, int | None]] = {}

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._api.close)

    # -- reads ------------------------------------------------------------------------------
    async def read_secret(self, namespace: str, name: str, *, fresh: bool = False) -> SecretData | None:
        """The Secret's decoded data, or ``None`` if it does not exist."""
        key = (namespace, name)
        cached = self._secrets.get(key)
        if cached is not None and not fresh and time.monotonic() - cached[0] < self._secret_ttl:
            return cached[1]
        try:
            secret = await self._run(self._core.read_namespaced_secret, name, namespace)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                self._secrets[key] = (time.monotonic(), None)
                return None
            raise KubeError(f"reading Secret {namespace}/{name}: {error.status} {error.reason}") from None
        data = {k: base64.b64decode(v) for k, v in (secret.data or {}).items()}
        value = SecretData(secret.metadata.resource_version or "", data)
        self._secrets[key] = (time.monotonic(), value)
        return value

    def forget_secret(self, namespace: str, name: str) -> None:
        self._secrets.pop((namespace, name), None)

    async def read_service_port(self, namespace: str, name: str) -> int | None:
        """The Service's HTTP(S) port (named ``https``/``http`` or the first), or ``None`` if missing.

        Cached like Secrets (one read per Service per resync interval, shared by all resources).
        """
        key = (namespace, name)
        cached = self._service_ports.get(key)
        if cached is not None and time.monotonic() - cached[0] < self._secret_ttl:
            return cached[1]
        try:
            service = await self._run(self._core.read_namespaced_service, name, namespace)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                self._service_ports[key] = (time.monotonic(), None)
                return None
            raise KubeError(f"reading Service {namespace}/{name}: {error.status} {error.reason}") from None
        ports = service.spec.ports or []
        named = [int(p.port) for wanted in ("https", "http") for p in ports if p.name == wanted]
        port = named[0] if named else (int(ports[0].port) if ports else None)
        self._service_ports[key] = (time.monotonic(), port)
        return port

    # -- writes -----------------------------------------------------------------------------
    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """JSON merge patch of ``.status`` (keys mapped to ``None`` are removed)."""
        try:
            await self._run(
                self._custom.patch_namespaced_custom_object_status,
                GROUP, VERSION, namespace, PLURAL, name, {"status": dict(status)}, field_manager=COMPONENT,
            )  # fmt: skip
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return  # deleted meanwhile
            raise KubeError(f"patching status of {namespace}/{name}: {error.status} {error.reason}") from None

    async def post_event(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
        """A core/v1 Event about the resource. Failures are logged, never raised."""
        meta = body.get("metadata", {})
        now = datetime.now(UTC)
        event = kubernetes.client.CoreV1Event(
            metadata=kubernetes.client.V1ObjectMeta(
                generate_name=f"{meta.get('name', 'mdep')}.", namespace=meta.get("namespace")
            ),
            involved_object=kubernetes.client.V1ObjectReference(
                api_version=body.get("apiVersion", f"{GROUP}/{VERSION}"),
                kind=body.get("kind", "ModelDeployment"),
                name=meta.get("name"),
                namespace=meta.get("namespace"),
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
            ),
            type=type,
            reason=reason[:128],
            message=message[:1024],
            source=kubernetes.client.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT,
            reporting_instance=COMPONENT,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        try:
            await self._run(self._core.create_namespaced_event, meta.get("namespace"), event)
        except Exception as error:  # events are best effort
            logger.warning(
                "could not post event %s for %s/%s: %s",
                reason,
                meta.get("namespace"),
                meta.get("name"),
                error,
            )
