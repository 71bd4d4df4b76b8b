"""The operator's own Kubernetes API calls: status patches, events, finalizers, Secrets and Services.

kopf watches the resources; these are the few writes and reads the operator
makes itself, typed by the :class:`KubeApi` protocol (tests use in-memory
fakes). Calls go through the one asynchronous client of
:mod:`esml_operator.kube.config`, so each has a timeout and none holds a thread.
Writes read their replies as bytes and never decode them (the operator does not use them; decoding cost
5-15 % of a call's CPU, docs/reference/kubernetes-client.md). Secrets and Service ports are cached per
(namespace, name) for one TTL
(``cachetools.TTLCache``, which evicts), shared by every resource that
references them, and read once however many resources ask at the same moment.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from cachetools import TTLCache
from kubernetes.aio import client

from esml_operator.kube import rest
from esml_operator.kube.errors import Conflict, Invalid, NotFound, discard

logger = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "esml.io", "v1alpha1", "modeldeployments"
COMPONENT = "esml-operator"
CACHE_SIZE = 4096

T = TypeVar("T")
K = TypeVar("K")


@dataclass(frozen=True)
class SecretData:
    resource_version: str
    data: Mapping[str, bytes]


class KubeApi(Protocol):
    async def read_secret(self, namespace: str, name: str, *, fresh: bool = False) -> SecretData | None: ...
    def forget_secret(self, namespace: str, name: str) -> None: ...
    async def read_service_port(self, namespace: str, name: str) -> int | None: ...
    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None: ...
    async def set_finalizers(
        self, namespace: str, name: str, *, resource_version: str, finalizers: list[str]
    ) -> None: ...
    async def post_event(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None: ...
    async def aclose(self) -> None: ...


class SingleFlightCache:
    """A TTL cache whose misses are fetched once, however many callers ask at the same moment."""

    def __init__(self, ttl: float) -> None:
        self._values: TTLCache[Any, Any] = TTLCache(maxsize=CACHE_SIZE, ttl=ttl)
        self._inflight: dict[Any, asyncio.Future[Any]] = {}

    def forget(self, key: Any) -> None:
        self._values.pop(key, None)

    async def get(self, key: Any, fetch: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        if not fresh and key in self._values:
            return self._values[key]  # type: ignore[no-any-return]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await fetch()
        except BaseException as error:
            if not isinstance(error, asyncio.CancelledError):
                future.set_exception(error)
                future.exception()  # retrieved: waiters may be gone
            else:
                future.cancel()
            raise
        else:
            self._values[key] = value
            future.set_result(value)
            return value
        finally:
            self._inflight.pop(key, None)


class KubernetesApi:
    """:class:`KubeApi` over ``kubernetes.aio`` (failures are :mod:`esml_operator.kube.errors`)."""

    def __init__(self, api_client: Any, *, secret_ttl: float) -> None:
        self._api = api_client
        self._custom = client.CustomObjectsApi(api_client)
        self._secrets = SingleFlightCache(secret_ttl)
        self._service_ports = SingleFlightCache(secret_ttl)

    async def aclose(self) -> None:
        await self._api.close()

    # -- reads ------------------------------------------------------------------------------
    async def read_secret(self, namespace: str, name: str, *, fresh: bool = False) -> SecretData | None:
        """The Secret's decoded data, or ``None`` if it does not exist."""

        async def fetch() -> SecretData | None:
            secret = await rest.read_unless_missing(
                f"reading Secret {namespace}/{name}",
                self._api,
                rest.path("api", "v1", "namespaces", namespace, "secrets", name),
            )
            if secret is None:
                return None
            data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
            return SecretData((secret.get("metadata") or {}).get("resourceVersion") or "", data)

        return await self._secrets.get((namespace, name), fetch, fresh=fresh)

    def forget_secret(self, namespace: str, name: str) -> None:
        self._secrets.forget((namespace, name))

    async def read_service_port(self, namespace: str, name: str) -> int | None:
        """The Service's HTTP(S) port (named ``https``/``http`` or the first), or ``None`` if missing."""

        async def fetch() -> int | None:
            service = await rest.read_unless_missing(
                f"reading Service {namespace}/{name}",
                self._api,
                rest.path("api", "v1", "namespaces", namespace, "services", name),
            )
            if service is None:
                return None
            ports = (service.get("spec") or {}).get("ports") or []
            named = [int(p["port"]) for wanted in ("https", "http") for p in ports if p.get("name") == wanted]
            return named[0] if named else (int(ports[0]["port"]) if ports else None)

        return await self._service_ports.get((namespace, name), fetch)

    # -- writes -----------------------------------------------------------------------------
    async def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """JSON merge patch of ``.status`` (keys mapped to ``None`` are removed)."""
        request = self._custom.patch_namespaced_custom_object_status_without_preload_content(
            GROUP, VERSION, namespace, PLURAL, name, {"status": dict(status)}, field_manager=COMPONENT
        )
        with contextlib.suppress(NotFound):  # deleted meanwhile
            await discard(f"patching status of {namespace}/{name}", request)

    async def set_finalizers(self, namespace: str, name: str, *, resource_version: str, finalizers: list[str]) -> None:
        """Set ``metadata.finalizers`` if the object is still at ``resource_version`` (a JSON patch with a test,
        so a finalizer someone else added meanwhile is never lost; a conflict is retried on the next event)."""
        patch: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "add", "path": "/metadata/finalizers", "value": finalizers},
        ]
        request = self._custom.patch_namespaced_custom_object_without_preload_content(
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            name,
            patch,
            field_manager=COMPONENT,
            _content_type="application/json-patch+json",
        )
        try:
            await discard(f"setting finalizers of {namespace}/{name}", request)
        except (NotFound, Conflict, Invalid) as error:  # gone, or changed meanwhile: the next watch event retries
            logger.debug("finalizers not set: %s", error)

    async def post_event(self, body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
        """A core/v1 Event about the resource. Failures are logged, never raised."""
        meta = body.get("metadata", {})
        namespace = meta.get("namespace") or ""
        event = event_body(body, type=type, reason=reason, message=message)
        try:
            await rest.write(
                "posting an event", self._api, "POST", rest.path("api", "v1", "namespaces", namespace, "events"), event
            )
        except Exception as error:  # events are best effort (a KubeError, or a body the client refused)
            logger.warning(
                "could not post event %s for %s/%s: %s", reason, meta.get("namespace"), meta.get("name"), error
            )


def event_body(body: Mapping[str, Any], *, type: str, reason: str, message: str) -> dict[str, Any]:
    """A core/v1 Event about ``body`` (as the generated ``CoreV1Event`` serialised it), reported by the operator."""
    meta = body.get("metadata", {})
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    involved = {
        "apiVersion": body.get("apiVersion", f"{GROUP}/{VERSION}"),
        "kind": body.get("kind", "ModelDeployment"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name', 'mdep')}.", "namespace": meta.get("namespace")},
        "involvedObject": {k: v for k, v in involved.items() if v is not None},
        "type": type,
        "reason": reason[:128],
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
