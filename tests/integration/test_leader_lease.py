"""Leader election on a real Lease in the real kube-apiserver: one leader, takeover, release, API errors."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes.aio import client as kube

from esml_operator.kube.config import ApiClient
from esml_operator.kube.leases import KubernetesLeases, LeaseConflict, LeaseError, LeaseRecord
from esml_operator.leaderelection.elector import LeaderElector
from harness.polling import wait_for_async
from harness.runner import ControlPlane
from tests.integration.kube_client import operator_client

LEASE, RENEW, RETRY = 3.0, 2.0, 0.5
LATENCY = 0.5  # allowance for API round trips and scheduling on a busy test machine
NAME = "esml-operator"


class Electors:
    """Electors in this process, each with its own API client; their tasks are cancelled at the end."""

    def __init__(self, plane: ControlPlane, namespace: str) -> None:
        self.plane, self.namespace = plane, namespace
        self.clients: list[Any] = []
        self.tasks: dict[str, asyncio.Task[None]] = {}

    async def start(self, identity: str) -> LeaderElector:
        client = await operator_client(self.plane.kubeconfig)
        self.clients.append(client)
        elector = LeaderElector(
            KubernetesLeases(client, self.namespace, NAME, request_timeout=1.0),
            identity=identity,
            lease_duration=LEASE,
            renew_deadline=RENEW,
            retry_period=RETRY,
        )
        self.tasks[identity] = asyncio.create_task(elector.run())
        return elector

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        for client in self.clients:
            await client.close()

    async def holder(self) -> str:
        got = await asyncio.to_thread(
            self.plane.kubectl, "get", "lease", NAME, "-n", self.namespace, "-o", "jsonpath={.spec.holderIdentity}"
        )
        return got.stdout

    async def lease(self) -> dict[str, Any]:
        got = await asyncio.to_thread(self.plane.kubectl, "get", "lease", NAME, "-n", self.namespace, "-o", "json")
        spec: dict[str, Any] = json.loads(got.stdout)["spec"]
        return spec


@pytest.fixture
async def electors(control_plane: ControlPlane, namespace: str) -> AsyncIterator[Electors]:
    group = Electors(control_plane, namespace)
    yield group
    await group.close()


async def held_at(condition: Callable[[], bool], within: float, broken: Callable[[], str]) -> float:
    """The monotonic time ``condition`` first held, polled every 10 ms.

    ``broken`` runs at every poll and says what is wrong, if anything: that ends the wait at once (an exception
    from the check would only be "not yet" to ``wait_for_async``).
    """

    def poll() -> float | str | bool:
        return broken() or (condition() and time.monotonic())

    found = await wait_for_async(poll, within=within, interval=0.01, what="the electors' condition")
    assert not isinstance(found, str), found
    return float(found)


def never_two(*electors: LeaderElector) -> Callable[[], str]:
    def broken() -> str:
        leaders = [e.identity for e in electors if e.is_leader]
        return f"two leaders at once: {leaders}" if len(leaders) > 1 else ""

    return broken


async def one_leader(a: LeaderElector, b: LeaderElector) -> tuple[LeaderElector, LeaderElector]:
    """Wait until one leads and the other has seen it; (leader, follower)."""
    await held_at(lambda: a.is_leader or b.is_leader, LEASE + RETRY, never_two(a, b))
    leader, follower = (a, b) if a.is_leader else (b, a)
    await held_at(lambda: follower.observed_holder == leader.identity, 2 * RETRY + LATENCY, never_two(a, b))
    assert leader.is_leader and not follower.is_leader and follower.transitions == 0
    return leader, follower


async def test_exactly_one_leads_and_another_takes_over_after_expiry(electors: Electors) -> None:
    a, b = await electors.start("replica-a"), await electors.start("replica-b")
    leader, follower = await one_leader(a, b)
    assert await electors.holder() == leader.identity
    assert leader.is_leader and not follower.is_leader  # (kubectl ran in a thread; both kept going meanwhile)

    task = electors.tasks[leader.identity]
    task.cancel()  # dies without releasing: the Lease stays held until it expires
    killed = time.monotonic()
    await asyncio.gather(task, return_exceptions=True)
    took_over = await held_at(lambda: follower.is_leader, LEASE + RETRY + 5, never_two(a, b))
    elapsed = took_over - killed
    print(f"takeover after the leader died: {elapsed:.2f}s (lease {LEASE:g}s + retry {RETRY:g}s)")
    # Its last renewal was about one retry period or less before it died: no takeover before lease - retry.
    assert LEASE - RETRY - 0.1 <= elapsed <= LEASE + RETRY + LATENCY
    assert await electors.holder() == follower.identity
    spec = await electors.lease()
    assert spec["leaseTransitions"] == 1 and spec["leaseDurationSeconds"] == 3
    assert follower.transitions == 1 and leader.transitions == 1


async def test_release_hands_over_within_a_retry_period(electors: Electors) -> None:
    a, b = await electors.start("replica-a"), await electors.start("replica-b")
    leader, follower = await one_leader(a, b)
    await leader.release()
    released = time.monotonic()
    assert not leader.is_leader and electors.tasks[leader.identity].done()
    took_over = await held_at(lambda: follower.is_leader, LEASE, never_two(a, b))
    elapsed = took_over - released
    print(f"takeover after release: {elapsed:.2f}s (retry {RETRY:g}s, lease {LEASE:g}s)")
    assert elapsed <= RETRY + LATENCY < LEASE
    assert await electors.holder() == follower.identity


async def test_kubernetes_leases_against_the_api_server(control_plane: ControlPlane, namespace: str) -> None:
    client = await operator_client(control_plane.kubeconfig)
    try:
        leases = KubernetesLeases(client, namespace, NAME)
        assert await leases.get() is None
        whole_second = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)  # MicroTime needs the six digits even here
        created = await leases.create(LeaseRecord("me", whole_second, whole_second, 15, 0))
        assert (created.holder, created.renew_time, created.lease_transitions) == ("me", whole_second, 0)
        assert created.resource_version
        with pytest.raises(LeaseConflict, match="already exists"):
            await leases.create(LeaseRecord("you", whole_second, whole_second, 15, 0))

        control_plane.kubectl("label", "lease", NAME, "-n", namespace, "team=ml")
        current = await leases.get()
        assert current is not None and current.resource_version != created.resource_version
        assert dataclasses.replace(current, resource_version="") == dataclasses.replace(created, resource_version="")
        precise = datetime(2030, 1, 2, 3, 4, 6, 123456, tzinfo=UTC)
        renewed = await leases.replace(LeaseRecord("me", whole_second, precise, 15, 2, current.resource_version))
        assert renewed.renew_time == precise and renewed.lease_transitions == 2
        assert renewed.resource_version != created.resource_version
        with pytest.raises(LeaseConflict, match="changed since"):
            await leases.replace(LeaseRecord("you", precise, precise, 15, 3, created.resource_version))

        got = json.loads(control_plane.kubectl("get", "lease", NAME, "-n", namespace, "-o", "json").stdout)
        assert got["spec"]["holderIdentity"] == "me"
        assert got["spec"]["renewTime"] == "2030-01-02T03:04:06.123456Z"
        assert got["metadata"]["labels"] == {"team": "ml"}  # kept across the replace

        control_plane.kubectl("delete", "lease", NAME, "-n", namespace)
        with pytest.raises(LeaseConflict):  # the API server answers 409 to a conditional PUT on a deleted Lease
            await leases.replace(LeaseRecord("me", precise, precise, 15, 3, renewed.resource_version))
    finally:
        await client.close()


async def test_api_errors_become_lease_errors_with_a_message(control_plane: ControlPlane, namespace: str) -> None:
    alice = await operator_client(control_plane.kubeconfig_for("alice"))
    refused_config = kube.Configuration()
    refused_config.host = "https://127.0.0.1:1"  # nothing listens there
    refused = ApiClient(refused_config, request_timeout=1.0)
    try:
        with pytest.raises(LeaseError) as forbidden:
            await KubernetesLeases(alice, namespace, NAME).get()
        assert not isinstance(forbidden.value, LeaseConflict)
        message = str(forbidden.value)
        assert message.startswith(f"reading Lease {namespace}/{NAME}: HTTP 403 Forbidden: ")
        assert 'User "alice" cannot get resource "leases"' in message
        assert forbidden.value.__cause__ is None and "Traceback" not in message

        with pytest.raises(LeaseError, match=f"^reading Lease {namespace}/{NAME}: ") as unreachable:
            await KubernetesLeases(refused, namespace, NAME, request_timeout=1.0).get()
        assert len(str(unreachable.value)) <= 400
    finally:
        await alice.close()
        await refused.close()
