"""The operator's one Kubernetes client: no proxy lookups, a timeout on every request, no threads (issue 20 §1)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubernetes.aio import client as kube

from esml_operator.kube import errors
from esml_operator.kube.config import ApiClient, load_api_client
from esml_operator.kube.leases import KubernetesLeases
from esml_operator.settings import Settings

OPERATOR = Path(__file__).resolve().parents[2] / "operator"
GUARD = 60.0  # only bounds a broken test; the timeouts under test are far shorter


def kubeconfig(path: Path, server: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
        "users: [{name: u, user: {token: not-a-secret}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A loopback HTTP server that accepts and reads requests and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read(65536)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_the_session_does_not_read_proxies_or_netrc(tmp_path: Path) -> None:
    """aiohttp's trust_env makes two thread hops per request; kubernetes.aio turns it on unless told not to."""
    api_client = await load_api_client(
        Settings(namespaces=("ml",), kubeconfig=str(kubeconfig(tmp_path / "k", "https://127.0.0.1:1")))
    )
    session = api_client.rest_client._create_pool_manager()
    try:
        assert session.trust_env is False
        assert api_client.request_timeout == Settings(namespaces=("ml",)).kube_request_timeout == 10.0
    finally:
        await session.close()
        await api_client.close()


async def test_every_request_times_out_at_the_setting(tmp_path: Path, silent_server: str) -> None:
    settings = Settings(
        namespaces=("ml",), kubeconfig=str(kubeconfig(tmp_path / "k", silent_server)), kube_request_timeout=0.2
    )
    api_client = await load_api_client(settings)
    try:
        with pytest.raises(errors.Timeout, match=r"^reading Secret ml/es: "):
            request = kube.CoreV1Api(api_client).read_namespaced_secret("es", "ml")
            await asyncio.wait_for(errors.call("reading Secret ml/es", request), GUARD)
    finally:
        await api_client.close()


async def test_a_call_may_name_a_shorter_timeout(tmp_path: Path, silent_server: str) -> None:
    """The Lease's calls time out at half the renew deadline, whatever the client-wide setting."""
    settings = Settings(
        namespaces=("ml",), kubeconfig=str(kubeconfig(tmp_path / "k", silent_server)), kube_request_timeout=GUARD * 10
    )
    api_client: ApiClient = await load_api_client(settings)
    try:
        leases = KubernetesLeases(api_client, "ops", "esml-operator", request_timeout=0.2)
        with pytest.raises(errors.Timeout, match=r"^reading Lease ops/esml-operator: "):
            await asyncio.wait_for(leases.get(), GUARD)
    finally:
        await api_client.close()


def test_the_operator_starts_no_threads_for_io() -> None:
    """Every request is a coroutine with its own timeout: no thread pool, to_thread or run_in_executor."""
    pattern = re.compile(r"\bto_thread\b|\brun_in_executor\b|\bThreadPoolExecutor\b")
    sources = sorted(OPERATOR.rglob("*.py"))
    assert len(sources) > 50
    found = [
        f"{p.relative_to(OPERATOR)}:{n}"
        for p in sources
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []
