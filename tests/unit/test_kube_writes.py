"""The operator's writes (status, finalizers, Events) against a loopback HTTP server: replies read but never decoded,
connections reused, and every failure still in kube/errors.py's vocabulary."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from esml_operator.kube import errors
from esml_operator.kube.api import KubernetesApi
from esml_operator.kube.config import load_api_client
from esml_operator.settings import Settings
from tests.unit.test_kube_client import GUARD, kubeconfig

STATUS = "/apis/esml.io/v1alpha1/namespaces/ml/modeldeployments/a/status"
OBJECT = "/apis/esml.io/v1alpha1/namespaces/ml/modeldeployments/a"
EVENTS = "/api/v1/namespaces/ml/events"
BODY = {"apiVersion": "esml.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": "a", "namespace": "ml"}}


@dataclass
class Server:
    """Answers every request with ``status`` and a Kubernetes ``Status`` (or an echo of the request on 2xx)."""

    url: str = ""
    status: int = 200
    requests: list[tuple[str, str, str, Any]] = field(default_factory=list)  # method, path, content type, body
    peers: set[Any] = field(default_factory=set)  # one per TCP connection used

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append((request.method, request.path, request.content_type, body))
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        if 200 <= self.status <= 299:
            return web.json_response(body, status=self.status)
        answer = {"kind": "Status", "status": "Failure", "message": f"the server says {self.status}"}
        return web.json_response(answer, status=self.status)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    served = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", served.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    served.url = f"http://127.0.0.1:{port}"
    try:
        yield served
    finally:
        await runner.cleanup()


@pytest.fixture
async def api(tmp_path: Path, server: Server) -> AsyncIterator[KubernetesApi]:
    settings = Settings(namespaces=("ml",), kubeconfig=str(kubeconfig(tmp_path / "k", server.url)))
    kube = KubernetesApi(await load_api_client(settings), secret_ttl=60.0)
    try:
        yield kube
    finally:
        await kube.aclose()


async def test_status_patches_reuse_one_connection(server: Server, api: KubernetesApi) -> None:
    """The undecoded reply is read to its end, so the connection goes back to the pool."""
    for ready in ("True", "False", "True"):
        await api.patch_status("ml", "a", {"observedGeneration": 2, "ready": ready})
    assert [r[:2] for r in server.requests] == [("PATCH", STATUS)] * 3
    assert server.requests[-1][3] == {"status": {"observedGeneration": 2, "ready": "True"}}
    assert len(server.peers) == 1


async def test_a_status_patch_of_a_deleted_resource_is_nothing(server: Server, api: KubernetesApi) -> None:
    server.status = 404
    await api.patch_status("ml", "a", {"ready": "True"})
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [(403, errors.Forbidden), (409, errors.Conflict), (422, errors.Invalid), (500, errors.Unavailable)],
)
async def test_a_failed_status_patch_maps_through_kube_errors(
    server: Server, api: KubernetesApi, status: int, kind: type[errors.KubeError]
) -> None:
    server.status = status
    with pytest.raises(kind) as raised:
        await api.patch_status("ml", "a", {"ready": "True"})
    assert type(raised.value) is kind and raised.value.status == status
    assert str(raised.value).startswith(f"patching status of ml/a: HTTP {status} ")
    assert str(raised.value).endswith(f": the server says {status}")


@pytest.mark.parametrize("status", [404, 409, 422])
async def test_finalizers_of_a_changed_or_deleted_resource_are_left_to_the_next_event(
    server: Server, api: KubernetesApi, status: int
) -> None:
    server.status = status
    await api.set_finalizers("ml", "a", resource_version="7", finalizers=["esml.io/stop-deployment"])
    method, path, content_type, patch = server.requests[0]
    assert (method, path, content_type) == ("PATCH", OBJECT, "application/json-patch+json")
    assert patch[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "7"}


async def test_finalizers_refused_for_another_reason_raise(server: Server, api: KubernetesApi) -> None:
    server.status = 403
    with pytest.raises(errors.Forbidden, match=r"^setting finalizers of ml/a: HTTP 403 Forbidden: the server says"):
        await api.set_finalizers("ml", "a", resource_version="7", finalizers=[])


async def test_events_are_posted_and_a_refused_one_is_only_logged(
    server: Server, api: KubernetesApi, caplog: pytest.LogCaptureFixture
) -> None:
    await api.post_event(BODY, type="Normal", reason="Scaled", message="2 -> 3")
    server.status = 403
    await api.post_event(BODY, type="Warning", reason="Failed", message="no")
    (method, path, _, event), _ = server.requests
    assert (method, path) == ("POST", EVENTS)
    assert (event["reason"], event["message"], event["involvedObject"]["name"]) == ("Scaled", "2 -> 3", "a")
    assert "could not post event Failed for ml/a: posting an event: HTTP 403 Forbidden: the server says" in caplog.text
    assert len(server.peers) == 1


async def test_a_reply_whose_body_never_comes_times_out(tmp_path: Path) -> None:
    """The request timeout covers reading the undecoded reply too."""

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        await reader.read()  # until the client gives up and closes

    stalled = await asyncio.start_server(stall, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{stalled.sockets[0].getsockname()[1]}"
    settings = Settings(namespaces=("ml",), kubeconfig=str(kubeconfig(tmp_path / "k", url)), kube_request_timeout=0.2)
    kube = KubernetesApi(await load_api_client(settings), secret_ttl=60.0)
    try:
        with pytest.raises(errors.Timeout, match=r"^patching status of ml/a: no answer"):
            await asyncio.wait_for(kube.patch_status("ml", "a", {"ready": "True"}), GUARD)
    finally:
        await kube.aclose()
        stalled.close()
        await stalled.wait_closed()
