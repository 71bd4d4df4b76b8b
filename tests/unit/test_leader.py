"""LeaderElector against an in-memory Lease and virtual time: acquire, renew, expiry, fencing, release, races."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from kubernetes.aio import client as kube

from esml_operator.kube.leases import KubernetesLeases, LeaseConflict, LeaseError, LeaseRecord
from esml_operator.leaderelection.elector import (
    INSTALL_NAMESPACE,
    LeaderElector,
    LeaseNamespace,
    default_identity,
    elector_from_settings,
    lease_namespace,
)
from esml_operator.leaderelection.leases import LeaseApi
from esml_operator.settings import Settings
from harness.runner import REPO

LEASE, RENEW, RETRY = 15.0, 10.0, 2.0
EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


class VirtualTime:
    """A monotonic clock, a wall clock and ``sleep`` that only move when the test advances them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def clock(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now)

    async def sleep(self, delay: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + max(delay, 0.0), self._seq, future))
        await future

    @staticmethod
    async def settle() -> None:
        """Let every task run until it waits on virtual time (the fakes do no real I/O)."""
        for _ in range(50):
            await asyncio.sleep(0)

    async def advance(self, seconds: float, check: Callable[[], None] | None = None) -> None:
        """Move time forward by ``seconds``, waking sleepers in order; ``check`` runs after every wake."""
        await self.run_until(lambda: False, seconds, check)

    async def run_until(
        self, predicate: Callable[[], bool], limit: float, check: Callable[[], None] | None = None
    ) -> float:
        """Advance until ``predicate()`` holds (returns the time) or ``limit`` seconds pass (returns -1)."""
        end = self.now + limit
        await self.settle()
        while True:
            if check is not None:
                check()
            if predicate():
                return self.now
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)  # cancelled sleeps
            if not self._sleepers or self._sleepers[0][0] > end:
                self.now = max(self.now, end)
                await self.settle()
                return self.now if predicate() else -1.0
            wake, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, wake)
            future.set_result(None)
            await self.settle()


class LeaseStore:
    """The API server's copy of the Lease; every write gets a new resourceVersion."""

    def __init__(self, record: LeaseRecord | None = None) -> None:
        self.record: LeaseRecord | None = None
        self.writes: list[LeaseRecord] = []
        self._version = 0
        if record is not None:
            self.put(record)

    def put(self, record: LeaseRecord) -> LeaseRecord:
        self._version += 1
        self.record = dataclasses.replace(record, resource_version=str(self._version))
        self.writes.append(self.record)
        return self.record


class FakeLeases:
    """One client's view of the store, with switchable failures."""

    def __init__(self, store: LeaseStore) -> None:
        self.store = store
        self.failure: Exception | None = None
        self.hang = False
        self.calls: list[str] = []
        self.conflicts = 0
        self.write_barrier: asyncio.Barrier | None = None  # holds the next write until others reach it too
        self.latency = 0.0
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def _enter(self, verb: str) -> None:
        self.calls.append(verb)
        await asyncio.sleep(0)  # let concurrent callers interleave, as real requests do
        if verb != "get" and self.write_barrier is not None:
            barrier, self.write_barrier = self.write_barrier, None
            await barrier.wait()
        if self.hang:
            await asyncio.get_running_loop().create_future()  # no answer, ever
        if self.latency:
            await self.sleep(self.latency)
        if self.failure is not None:
            raise self.failure

    async def get(self) -> LeaseRecord | None:
        await self._enter("get")
        return self.store.record

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        await self._enter("create")
        if self.store.record is not None:
            self.conflicts += 1
            raise LeaseConflict("already exists")
        return self.store.put(record)

    async def replace(self, record: LeaseRecord) -> LeaseRecord:
        await self._enter("replace")
        if self.store.record is None or self.store.record.resource_version != record.resource_version:
            self.conflicts += 1
            raise LeaseConflict("changed")
        return self.store.put(record)


class Actor:
    """An elector with its own API view, its task and a log of its callbacks (virtual times)."""

    def __init__(self, name: str, store: LeaseStore, vt: VirtualTime, *, api: FakeLeases | None = None) -> None:
        self.api = api or FakeLeases(store)
        self.api.sleep = vt.sleep
        leases: LeaseApi = self.api
        self.started: list[float] = []
        self.stopped: list[float] = []
        self.elector = LeaderElector(
            leases,
            identity=name,
            lease_duration=LEASE,
            renew_deadline=RENEW,
            retry_period=RETRY,
            clock=vt.clock,
            wall=vt.wall,
            sleep=vt.sleep,
            on_started_leading=lambda: self.started.append(vt.now),
            on_stopped_leading=lambda: self.stopped.append(vt.now),
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run())

    async def stop(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.wait({self.task})


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


def held_by(
    holder: str, vt: VirtualTime, *, duration: int = 15, transitions: int = 3, skew: float = 0.0
) -> LeaseRecord:
    renewed = vt.wall() + timedelta(seconds=skew)
    return LeaseRecord(holder, renewed, renewed, duration, transitions)


def never_two(*actors: Actor) -> Callable[[], None]:
    def check() -> None:
        leaders = [a.elector.identity for a in actors if a.elector.is_leader]
        assert len(leaders) <= 1, f"two actors at once: {leaders}"

    return check


async def test_acquires_a_missing_lease(vt: VirtualTime) -> None:
    store = LeaseStore()
    a = Actor("a", store, vt)
    a.start()
    await vt.settle()
    assert a.elector.is_leader
    assert a.started == [1000.0] and a.elector.transitions == 1
    assert store.record == LeaseRecord("a", vt.wall(), vt.wall(), 15, 0, "1")
    assert a.api.calls == ["get", "create"]
    await a.stop()
    assert not a.elector.is_leader and a.stopped == [1000.0]
    assert a.elector.leader_alive()


async def test_renews_every_retry_period_with_one_request(vt: VirtualTime) -> None:
    store = LeaseStore()
    a = Actor("a", store, vt)
    a.start()
    await vt.settle()
    acquired = store.record
    assert acquired is not None
    await vt.advance(60, check=lambda: assert_leader(a))
    assert len(store.writes) == 1 + 30  # one renewal per 2 s
    record = store.record
    assert record is not None and record.holder == "a"
    assert record.renew_time == vt.wall() and record.acquire_time == acquired.acquire_time
    assert record.lease_transitions == 0
    assert a.api.calls[2:] == ["replace"] * 30  # renewals skip the read (client-go's fast path)
    assert a.started == [1000.0] and a.stopped == []
    await a.stop()


def assert_leader(actor: Actor) -> None:
    assert actor.elector.is_leader


async def test_a_valid_lease_is_not_taken_over_before_it_expires(vt: VirtualTime) -> None:
    store = LeaseStore(held_by("other", vt))
    b = Actor("b", store, vt)
    b.start()
    await vt.advance(LEASE - 0.1)
    assert not b.elector.is_leader and b.elector.observed_holder == "other"
    assert store.record is not None and store.record.holder == "other"

    took_over = await vt.run_until(lambda: b.elector.is_leader, 10)
    assert 1000 + LEASE <= took_over <= 1000 + LEASE + RETRY
    assert store.record is not None and store.record.holder == "b"
    assert store.record.lease_transitions == 4
    assert store.record.acquire_time == vt.wall()
    await b.stop()


@pytest.mark.parametrize("skew", [-3600.0, 3600.0], ids=["holder-clock-behind", "holder-clock-ahead"])
async def test_expiry_counts_from_local_observation_not_renew_time(vt: VirtualTime, skew: float) -> None:
    """The holder's renewTime, an hour off the local wall clock, changes nothing: 15 s after first sight."""
    store = LeaseStore(held_by("other", vt, skew=skew))
    b = Actor("b", store, vt)
    b.start()
    took_over = await vt.run_until(lambda: b.elector.is_leader, 60)
    assert 1000 + LEASE <= took_over <= 1000 + LEASE + RETRY
    await b.stop()


async def test_expiry_restarts_when_the_record_changes(vt: VirtualTime) -> None:
    store = LeaseStore(held_by("other", vt))
    b = Actor("b", store, vt)
    b.start()
    await vt.advance(10)
    store.put(held_by("other", vt))  # the holder renewed (its renewTime is not read, only the change)
    took_over = await vt.run_until(lambda: b.elector.is_leader, 60)
    assert 1012 + LEASE <= took_over <= 1012 + LEASE + RETRY  # b saw the change at its poll at 1012
    await b.stop()


async def test_a_renewing_leader_keeps_the_lease(vt: VirtualTime) -> None:
    store = LeaseStore()
    a, b = Actor("a", store, vt), Actor("b", store, vt)
    a.start()
    await vt.settle()
    b.start()
    await vt.advance(120, check=never_two(a, b))
    assert a.elector.is_leader and not b.elector.is_leader
    assert b.started == [] and b.elector.observed_holder == "a"
    assert "replace" not in b.api.calls and "create" not in b.api.calls
    await a.stop()
    await b.stop()


@pytest.mark.parametrize("mode", ["errors", "hangs"])
async def test_fencing_stops_acting_at_the_renew_deadline(
    vt: VirtualTime, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The leader's API fails or hangs: it stops at last renewal sent + renew deadline; b waits for expiry."""
    caplog.set_level(logging.INFO, logger="esml_operator.leaderelection.elector")
    store = LeaseStore()
    a, b = Actor("a", store, vt), Actor("b", store, vt)
    a.start()
    await vt.settle()
    b.start()
    await vt.advance(3.0)  # a renewed at 1002; b saw that renewal at 1002
    last_renewal = 1002.0
    if mode == "errors":
        a.api.failure = LeaseError("HTTP 503 Service Unavailable")
    else:
        a.api.hang = True

    await vt.advance(last_renewal + RENEW - 0.001 - vt.now, check=never_two(a, b))
    assert a.elector.is_leader  # still inside the deadline
    vt.now = last_renewal + RENEW  # nothing runs: the property reads the clock
    assert not a.elector.is_leader
    await vt.advance(0)
    assert a.stopped == [last_renewal + RENEW]  # the loop woke at the deadline, even with a hung request

    took_over = await vt.run_until(lambda: b.elector.is_leader, 30, check=never_two(a, b))
    assert last_renewal + LEASE <= took_over <= last_renewal + LEASE + RETRY
    assert b.started == [took_over] and took_over > a.stopped[0]
    if mode == "errors":
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "could not renew" in r.message]
        assert len(warnings) >= 4 and "HTTP 503" in warnings[0].message
    assert any("a stopped leading" in r.message and r.levelno == logging.INFO for r in caplog.records)
    await a.stop()
    await b.stop()


async def test_the_deadline_counts_from_when_the_renewal_was_sent(vt: VirtualTime) -> None:
    store = LeaseStore()
    a = Actor("a", store, vt)
    a.start()
    await vt.settle()
    a.api.latency = 2.5
    await vt.advance(2.0)  # the renewal is sent at 1002 ...
    assert store.record is not None and store.record.renew_time == EPOCH + timedelta(seconds=1000)
    await vt.advance(2.5)  # ... and answered at 1004.5; later attempts fail off the 2 s grid of the first
    assert store.record is not None and store.record.renew_time == EPOCH + timedelta(seconds=1002)
    a.api.latency, a.api.failure = 0.0, LeaseError("HTTP 503 Service Unavailable")
    stopped = await vt.run_until(lambda: not a.elector.is_leader, 30)
    assert stopped == 1002 + RENEW and a.stopped == [stopped]
    await a.stop()


async def test_lease_left_is_the_time_to_the_renew_deadline_and_zero_when_not_leading(vt: VirtualTime) -> None:
    """The fence's deadline for every write: it counts down from each renewal sent, and ends with leadership."""
    store = LeaseStore()
    a = Actor("a", store, vt)
    assert a.elector.lease_left() == 0.0  # not leading yet
    a.start()
    await vt.settle()
    assert a.elector.lease_left() == RENEW
    await vt.advance(RETRY - 0.5)
    assert a.elector.lease_left() == RENEW - (RETRY - 0.5)
    await vt.advance(0.5)  # renewed at 1002
    assert a.elector.lease_left() == RENEW
    a.api.hang = True
    await vt.advance(RENEW - 0.25)  # the renewals since 1002 hang
    assert a.elector.lease_left() == 0.25 and a.elector.is_leader
    await vt.advance(0.25)
    assert a.elector.lease_left() == 0.0 and not a.elector.is_leader and a.stopped == [1002.0 + RENEW]
    await a.stop()


class DeafLeases(FakeLeases):
    """An API whose hung renewal ignores cancellation: it ends only when ``released`` is set."""

    def __init__(self, store: LeaseStore) -> None:
        super().__init__(store)
        self.released = asyncio.Event()

    async def replace(self, record: LeaseRecord) -> LeaseRecord:
        if self.hang:
            self.calls.append("replace (deaf)")
            while not self.released.is_set():
                with contextlib.suppress(asyncio.CancelledError):
                    await self.released.wait()
            raise LeaseError("answered at last")
        return await super().replace(record)


async def test_stopped_leading_fires_at_the_deadline_even_when_the_renewal_ignores_cancellation(
    vt: VirtualTime,
) -> None:
    """The loop never awaits the request it abandons at the deadline (``_bounded``), so it cannot be stuck in it."""
    store = LeaseStore()
    deaf = DeafLeases(store)
    a = Actor("a", store, vt, api=deaf)
    a.start()
    await vt.settle()
    await vt.advance(RETRY)  # renewed at 1002
    deaf.hang = True
    stopped = await vt.run_until(lambda: bool(a.stopped), 2 * RENEW)
    assert stopped == 1002.0 + RENEW and "replace (deaf)" in deaf.calls
    await a.stop()
    deaf.released.set()
    await vt.settle()


async def test_regains_the_lease_nobody_took_after_the_api_recovers(vt: VirtualTime) -> None:
    store = LeaseStore()
    a = Actor("a", store, vt)
    a.start()
    await vt.settle()
    a.api.failure = LeaseError("connection refused")
    await vt.advance(12)
    assert not a.elector.is_leader and a.stopped == [1010.0]
    a.api.failure = None
    regained = await vt.run_until(lambda: a.elector.is_leader, 5)
    assert regained == 1014.0
    assert a.elector.transitions == 2 and a.started == [1000.0, 1014.0]
    assert store.record is not None and store.record.lease_transitions == 0  # same holder: no transition
    await a.stop()


async def test_a_lease_taken_by_someone_else_stops_the_leader_at_once(vt: VirtualTime) -> None:
    store = LeaseStore()
    a = Actor("a", store, vt)
    a.start()
    await vt.settle()
    await vt.advance(1)
    store.put(held_by("intruder", vt))
    await vt.advance(1)  # a's renewal at 1002 conflicts, it reads the intruder's record
    assert not a.elector.is_leader and a.stopped == [1002.0]
    assert a.elector.observed_holder == "intruder"
    await a.stop()


async def test_release_lets_another_replica_take_over_at_once(vt: VirtualTime) -> None:
    store = LeaseStore()
    a, b = Actor("a", store, vt), Actor("b", store, vt)
    a.start()
    await vt.settle()
    await vt.advance(1.0)
    b.start()  # b polls at 1001, 1003, ...
    await vt.advance(4.5)

    await a.elector.release()
    released_at = vt.now
    assert not a.elector.is_leader and a.stopped == [released_at]
    assert a.task is not None and a.task.done()
    assert store.record is not None
    assert (store.record.holder, store.record.lease_duration_seconds) == ("", 1)
    assert store.record.renew_time == vt.wall() and store.record.lease_transitions == 0

    took_over = await vt.run_until(lambda: b.elector.is_leader, LEASE, check=never_two(a, b))
    assert 0 < took_over - released_at <= RETRY
    assert store.record is not None and store.record.holder == "b" and store.record.lease_transitions == 1
    writes = len(store.writes)
    await vt.advance(30)
    assert a.started == [1000.0]  # a released for good: it never campaigns again
    assert all(w.holder == "b" for w in store.writes[writes:])

    await b.elector.release()  # b holds it: released too
    assert store.record is not None and store.record.holder == ""
    await a.elector.release()  # a holds nothing: no write
    assert store.record.holder == ""


async def test_release_never_raises(vt: VirtualTime, caplog: pytest.LogCaptureFixture) -> None:
    store = LeaseStore()
    a = Actor("a", store, vt)
    a.start()
    await vt.settle()
    a.api.failure = LeaseError("HTTP 500 Internal Server Error")
    await a.elector.release()
    assert not a.elector.is_leader
    assert any("could not release" in r.message for r in caplog.records)

    hung = Actor("h", LeaseStore(), vt)
    hung.start()
    await vt.settle()
    hung.api.hang = True
    asked = vt.now
    release = asyncio.create_task(hung.elector.release())
    done = await vt.run_until(release.done, RENEW + 1)
    assert done == asked + RENEW and release.result() is None  # bounded by the renew deadline


async def test_release_survives_a_renewal_that_raced_it(vt: VirtualTime) -> None:
    store = LeaseStore()
    a = Actor("a", store, vt)
    a.start()
    await vt.settle()
    store.put(dataclasses.replace(store.record or held_by("a", vt)))  # same holder, new resourceVersion
    await a.elector.release()
    assert store.record is not None and store.record.holder == ""


async def test_concurrent_creates_only_one_wins(vt: VirtualTime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="esml_operator.leaderelection.elector")
    store = LeaseStore()
    a, b = Actor("a", store, vt), Actor("b", store, vt)
    a.start()
    b.start()
    await vt.settle()
    assert a.api.calls == ["get", "create"] and b.api.calls == ["get", "create"]  # both saw no Lease
    assert [a.elector.is_leader, b.elector.is_leader].count(True) == 1
    assert a.api.conflicts + b.api.conflicts == 1 and len(store.writes) == 1
    assert any("lost a race" in r.message for r in caplog.records)
    await vt.advance(30, check=never_two(a, b))
    await a.stop()
    await b.stop()


async def test_concurrent_takeovers_only_one_wins(vt: VirtualTime) -> None:
    store = LeaseStore(held_by("gone", vt, transitions=7))
    a, b = Actor("a", store, vt), Actor("b", store, vt)
    a.api.write_barrier = b.api.write_barrier = asyncio.Barrier(2)  # both take over from the same read
    a.start()
    b.start()
    took_over = await vt.run_until(lambda: a.elector.is_leader or b.elector.is_leader, 30, check=never_two(a, b))
    assert took_over == 1000 + 16
    assert a.api.calls[-2:] == b.api.calls[-2:] == ["get", "replace"]
    assert a.api.conflicts + b.api.conflicts == 1
    assert store.record is not None and store.record.lease_transitions == 8
    await vt.advance(30, check=never_two(a, b))
    await a.stop()
    await b.stop()


async def test_leader_alive_turns_false_when_the_loop_dies(vt: VirtualTime) -> None:
    store = LeaseStore()
    a = Actor("a", store, vt)
    a.start()
    await vt.settle()
    assert a.elector.leader_alive() and a.elector.is_leader
    a.api.failure = RuntimeError("a bug, not an API error")
    await vt.advance(RETRY)
    assert a.task is not None and a.task.done()
    with pytest.raises(RuntimeError, match="a bug"):
        a.task.result()
    assert not a.elector.leader_alive()
    assert not a.elector.is_leader and a.stopped == [1002.0]


async def test_a_failing_callback_does_not_stop_the_loop(vt: VirtualTime) -> None:
    def explode() -> None:
        raise ValueError("callback bug")

    leases: LeaseApi = FakeLeases(LeaseStore())
    elector = LeaderElector(
        leases,
        identity="a",
        lease_duration=LEASE,
        renew_deadline=RENEW,
        retry_period=RETRY,
        clock=vt.clock,
        wall=vt.wall,
        sleep=vt.sleep,
        on_started_leading=explode,
    )
    task = asyncio.create_task(elector.run())
    await vt.advance(10)
    assert elector.is_leader and elector.leader_alive() and not task.done()
    task.cancel()
    await asyncio.wait({task})


@pytest.mark.parametrize(("duration", "deadline", "retry"), [(15, 15, 2), (15, 10, 10), (15, 10, 0), (10, 15, 2)])
def test_timings_must_nest(duration: float, deadline: float, retry: float) -> None:
    leases: LeaseApi = FakeLeases(LeaseStore())
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        LeaderElector(leases, identity="a", lease_duration=duration, renew_deadline=deadline, retry_period=retry)


def test_identity_must_not_be_empty() -> None:
    leases: LeaseApi = FakeLeases(LeaseStore())
    with pytest.raises(ValueError, match="identity"):
        LeaderElector(leases, identity="", lease_duration=15, renew_deadline=10, retry_period=2)


def test_default_identity_is_the_pod_name_else_hostname_and_suffix() -> None:
    assert default_identity({"POD_NAME": "esml-operator-7d9f-abcde"}) == "esml-operator-7d9f-abcde"
    first, second = default_identity({}), default_identity({"POD_NAME": ""})
    host, _, suffix = first.rpartition("-")
    assert host and len(suffix) == 6 and int(suffix, 16) >= 0
    assert second.rpartition("-")[0] == host and first != second


def test_lease_namespace_order(tmp_path: Path) -> None:
    sa = tmp_path / "namespace"
    sa.write_text("from-sa\n")
    explicit = lease_namespace("explicit", environ={"POD_NAMESPACE": "pod"}, service_account_namespace=sa)
    assert explicit == LeaseNamespace("explicit", "--lease-namespace", in_cluster=True)
    local = lease_namespace("explicit", environ={}, service_account_namespace=tmp_path / "missing")
    assert local == LeaseNamespace("explicit", "--lease-namespace", in_cluster=False)
    pod = lease_namespace("", environ={"POD_NAMESPACE": "pod"}, service_account_namespace=sa)
    assert (pod.name, pod.in_cluster) == ("pod", True)
    account = lease_namespace("", environ={}, service_account_namespace=sa)
    assert (account.name, account.in_cluster) == ("from-sa", True)


def test_outside_a_cluster_the_lease_is_the_installs(tmp_path: Path) -> None:
    """A local run and the installed Deployment campaign for one Lease: never two actors (issue 17)."""
    outside = lease_namespace("", environ={"POD_NAMESPACE": " "}, service_account_namespace=tmp_path / "missing")
    assert (outside.name, outside.in_cluster) == ("esml-system", False)
    assert "outside a cluster" in outside.source
    kustomization = yaml.safe_load((REPO / "manifests" / "base" / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == INSTALL_NAMESPACE == outside.name


def test_elector_from_settings(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="esml_operator.leaderelection.elector")
    monkeypatch.setenv("POD_NAME", "esml-operator-0")
    monkeypatch.setenv("POD_NAMESPACE", "esml-system")
    client = kube.ApiClient()
    elector = elector_from_settings(Settings(namespaces=("apps",)), client)
    assert elector.identity == "esml-operator-0" and not elector.is_leader and elector.leader_alive()
    # The Lease in use is logged at start: namespace/name, where the namespace came from, and the identity.
    (started,) = [r.getMessage() for r in caplog.records if "Lease esml-system/esml-operator" in r.getMessage()]
    assert "POD_NAMESPACE" in started and "identity esml-operator-0" in started
    named = elector_from_settings(Settings(namespaces=("apps",), identity="me", lease_namespace="ops"), client)
    assert named.identity == "me"
    leases = named._leases
    assert isinstance(leases, KubernetesLeases) and (leases.namespace, leases.name) == ("ops", "esml-operator")
