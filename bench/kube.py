"""A raw HTTPS client for the API server (the kubeconfig's client certificate), with no client library in between.

The bench times API calls itself, so it keeps every layer it can out of the
way: one keep-alive httpx client, JSON bodies, nothing else.
"""

from __future__ import annotations

import base64
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.polling import wait_for_async

GROUP, VERSION, PLURAL = "esml.io", "v1alpha1", "modeldeployments"
MDEP_API = f"/apis/{GROUP}/{VERSION}"
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"})
# kube-apiserver renews its own identity Lease (kube-system) every 10 s; operators under leader election
# renew theirs too. Neither is a write about ModelDeployments, so write counts leave Leases out.
NOT_COUNTED = frozenset({"leases"})
_METRIC = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\}\s+(?P<value>[0-9.e+]+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class Credentials:
    server: str
    ca: Path
    cert: Path
    key: Path

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx


@dataclass(frozen=True)
class ScaleAck:
    namespace: str
    name: str
    replicas: int
    sent: float  # wall clock (time.time()) just before the request
    acked: float  # wall clock when the API server's answer was read
    resource_version: str


class Kube:
    def __init__(self, creds: Credentials, *, connections: int = 16) -> None:
        self.creds = creds
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.http = httpx.AsyncClient(base_url=creds.server, verify=creds.ssl_context(), timeout=60, limits=limits)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _send(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if response.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    # -- objects --------------------------------------------------------------------------
    async def create_namespace(self, name: str) -> None:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await self._send("POST", "/api/v1/namespaces", json=body)

    async def create_secret(self, namespace: str, name: str, data: Mapping[str, bytes]) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "type": "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
        }
        await self._send("POST", f"/api/v1/namespaces/{namespace}/secrets", json=body)

    async def create_mdep(self, namespace: str, body: Mapping[str, Any]) -> None:
        await self._send("POST", f"{MDEP_API}/namespaces/{namespace}/{PLURAL}", json=body)

    async def get_mdep(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(await self._send("GET", f"{MDEP_API}/namespaces/{namespace}/{PLURAL}/{name}"))

    async def delete_mdep(self, namespace: str, name: str) -> None:
        """Delete a ModelDeployment and wait (at most 30 s) until it is gone, finalizers done."""
        path = f"{MDEP_API}/namespaces/{namespace}/{PLURAL}/{name}"
        await self._send("DELETE", path, ok=(200, 202))

        async def gone() -> bool:
            return (await self.http.get(path)).status_code == 404

        await wait_for_async(gone, within=30, interval=0.25, what=f"{namespace}/{name} to be deleted")

    async def list_mdeps(self, namespace: str | None = None) -> list[dict[str, Any]]:
        path = f"{MDEP_API}/namespaces/{namespace}/{PLURAL}" if namespace else f"{MDEP_API}/{PLURAL}"
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            params = {"limit": "500", **({"continue": token} if token else {})}
            page = await self._send("GET", path, params=params)
            items += page["items"]
            token = page["metadata"].get("continue", "")
            if not token:
                return items

    async def patch_scale(self, namespace: str, name: str, replicas: int) -> ScaleAck:
        """A JSON merge patch of the /scale subresource, as an autoscaler sends it."""
        path = f"{MDEP_API}/namespaces/{namespace}/{PLURAL}/{name}/scale"
        content = b'{"spec":{"replicas":%d}}' % replicas
        headers = {"Content-Type": "application/merge-patch+json"}
        sent = time.time()
        response = await self.http.request("PATCH", path, content=content, headers=headers)
        acked = time.time()
        if response.status_code != 200:
            raise RuntimeError(f"PATCH {path}: {response.status_code} {response.text[:300]}")
        rv = str(response.json()["metadata"]["resourceVersion"])
        return ScaleAck(namespace, name, replicas, sent, acked, rv)

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        response = await self.http.get(path)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    async def list_leases(self, namespace: str) -> list[dict[str, Any]]:
        page = await self._send("GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases")
        return list(page["items"])

    # -- the API server's own request counters ---------------------------------------------
    async def write_counts(self) -> dict[str, float]:
        """Write requests served so far (any outcome), by resource, Leases left out (``apiserver_request_total``)."""
        text = (await self.http.get("/metrics")).raise_for_status().text
        counts: dict[str, float] = {}
        for line in text.splitlines():
            match = _METRIC.match(line)
            if not match:
                continue
            labels = dict(_LABEL.findall(match["labels"]))
            if labels.get("verb") not in WRITE_VERBS:
                continue
            resource = labels.get("resource", "")
            if resource in NOT_COUNTED:
                continue
            if labels.get("subresource"):
                resource += "/" + labels["subresource"]
            counts[resource] = counts.get(resource, 0.0) + float(match["value"])
        return counts


def delta(after: Mapping[str, float], before: Mapping[str, float]) -> dict[str, int]:
    keys = set(after) | set(before)
    out = {k: round(after.get(k, 0.0) - before.get(k, 0.0)) for k in keys}
    return {k: v for k, v in sorted(out.items()) if v}
