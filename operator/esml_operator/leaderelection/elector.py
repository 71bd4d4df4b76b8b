"""Leader election on a ``coordination.k8s.io/v1`` Lease, with client-go's semantics.

With N replicas exactly one acts (calls Elasticsearch, writes status); the
others keep trying to acquire the Lease and take over when it expires.

Using it (the runtime)::

    elector = elector_from_settings(settings, api_client, on_started_leading=resync_all)
    task = asyncio.create_task(elector.run())      # runs until cancelled or released
    ...
    if elector.is_leader:                          # before every Elasticsearch call and status write
        ...
    ...
    await elector.release()                        # on shutdown: stop acting, hand the Lease over

Public API of :class:`LeaderElector`:

* ``await run()``: the election loop. Every ``retry_period`` it tries to
  acquire the Lease (create it if missing; take it over when it is free or
  expired) and, once leading, renews it. It returns after :meth:`release`, is
  ended by cancellation, and re-raises anything unexpected (then
  :meth:`leader_alive` is False). It never raises for API errors: it logs them
  and retries.
* ``is_leader`` (property): True only while the last successful acquire or
  renew was *sent* less than ``renew_deadline`` ago (local monotonic clock).
  It is computed on every access, so it turns False at that deadline by
  itself, even if the loop is stuck in a hung request. Check it right before
  acting.
* ``lease_left()``: the seconds left before that deadline (0 when not
  leading): the deadline the controller's fence gives every write, so that no
  request of a deposed leader is still in flight after it.
* ``await release()``: stop acting at once, stop the loop, and if this
  process holds the Lease, write it back with no holder (and
  ``leaseDurationSeconds: 1``, as client-go's ReleaseOnCancel does) so another
  replica takes over at its next retry. Never raises. Final: the elector does
  not campaign again.
* ``leader_alive()``: False once ``run()`` died of an unexpected exception
  (for the liveness probe).
* ``transitions``: how many times this process became leader.
* ``observed_holder``: the holder of the Lease as last seen ("" = none; None =
  not read yet). ``identity``: this process's identity.
* ``on_started_leading`` / ``on_stopped_leading``: plain callbacks, called in
  strict alternation on the event loop (started, stopped, started, ...).
  ``on_stopped_leading`` runs when the renew deadline passes, when the Lease is
  seen in someone else's hands, on release, and when ``run()`` ends. An
  exception in a callback is logged, not raised.

Timing (as client-go/controller-runtime; defaults 15 s, 10 s, 2 s):

* A Lease held by someone else expires ``leaseDurationSeconds`` after *this
  process last saw it change*, measured on the local monotonic clock; the
  holder's ``renewTime`` is never compared with the local wall clock, so clock
  skew between nodes does not matter.
* The leader stops acting ``renew_deadline`` after its last successful renewal
  was sent. Another replica can only take over ``lease_duration`` after it saw
  that renewal, which is later. Since ``renew_deadline < lease_duration`` there
  are never two actors (assuming clocks that tick at the same rate, as
  client-go does).
* Without a release, another replica takes over within ``lease_duration +
  retry_period`` of the leader's death; after a release, at its next retry.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from esml_operator.kube.leases import KubernetesLeases, LeaseConflict, LeaseError, LeaseRecord
from esml_operator.leaderelection.leases import LeaseApi
from esml_operator.settings import Settings

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LeaderElector:
    """Campaign for one Lease and keep it; see the module docstring for the contract."""

    def __init__(
        self,
        leases: LeaseApi,
        *,
        identity: str,
        lease_duration: float,
        renew_deadline: float,
        retry_period: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_started_leading: Callable[[], None] | None = None,
        on_stopped_leading: Callable[[], None] | None = None,
    ) -> None:
        if not identity:
            raise ValueError("leader election needs a non-empty identity")
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError("leader election needs 0 < retry_period < renew_deadline < lease_duration")
        self._leases = leases
        self._identity = identity
        self._lease_seconds = math.ceil(lease_duration)
        self._renew_deadline = renew_deadline
        self._retry_period = retry_period
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading

        self._observed: LeaseRecord | None = None  # the Lease as last read or written here
        self._observed_at = 0.0  # local monotonic time when the record was last seen to change
        self._leading = False
        self._renewed_at = 0.0  # local monotonic time the last successful acquire/renew was sent
        self._transitions = 0
        self._released = False
        self._task: asyncio.Task[Any] | None = None
        self._failure: BaseException | None = None
        self._last_error = ""

    # -- state --------------------------------------------------------------------------------
    @property
    def identity(self) -> str:
        return self._identity

    @property
    def is_leader(self) -> bool:
        """True while the last successful acquire/renew was sent less than ``renew_deadline`` ago."""
        return self.lease_left() > 0

    def lease_left(self) -> float:
        """Seconds until this process must stop acting (its renew deadline); 0 when it does not lead.

        The deadline of every write (the controller's fence): nothing sent before it is still in flight after it.
        """
        if not self._leading:
            return 0.0
        return max(self._renewed_at + self._renew_deadline - self._clock(), 0.0)

    @property
    def transitions(self) -> int:
        """How many times this process became leader."""
        return self._transitions

    @property
    def observed_holder(self) -> str | None:
        """The Lease's holder as last seen here ("" when released, None before the first read)."""
        return None if self._observed is None else self._observed.holder

    @property
    def lease_transitions(self) -> int | None:
        """The Lease's ``leaseTransitions`` as last seen (None before the first read): changes of hands, by anyone."""
        return None if self._observed is None else self._observed.lease_transitions

    def leader_alive(self) -> bool:
        """False once :meth:`run` ended with an unexpected exception (for liveness)."""
        return self._failure is None

    # -- the loop -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Acquire, then renew every ``retry_period``, until cancelled or released."""
        if self._task is not None and not self._task.done() and self._task is not asyncio.current_task():
            raise RuntimeError("LeaderElector.run() is already running")
        if self._released:
            return
        self._task = asyncio.current_task()
        logger.info("leader election: %s is campaigning for the Lease", self._identity)
        try:
            while not self._released:
                started = self._clock()
                await self._attempt(started)
                await self._pause_until(started + self._retry_period)
        except Exception as error:
            self._failure = error
            logger.exception("leader election: the loop of %s failed", self._identity)
            raise
        finally:
            self._stop_leading("its election loop ended")

    async def release(self) -> None:
        """Stop acting and campaigning; if this process holds the Lease, hand it over. Never raises."""
        self._released = True
        self._stop_leading("it is releasing the Lease")
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.wait({task})
        held = self._observed
        if held is None or held.holder != self._identity:
            return
        try:
            await self._bounded(self._write_release(held), self._renew_deadline)
        except LeaseError as error:
            logger.warning("leader election: %s could not release the Lease: %s", self._identity, error)
        except Exception as error:
            logger.warning(
                "leader election: %s could not release the Lease: %s: %s", self._identity, type(error).__name__, error
            )

    # -- one attempt --------------------------------------------------------------------------
    async def _attempt(self, sent: float) -> None:
        self._check_fence()
        leading = self._leading
        limit = self._renewed_at + self._renew_deadline - sent if leading else self._renew_deadline
        try:
            won = await self._bounded(self._acquire_or_renew(), limit)
        except LeaseError as error:
            self._failed(error, leading)
            self._check_fence()
            return
        if not won:
            return
        self._renewed_at = sent
        self._last_error = ""
        if not self._leading:
            self._start_leading()

    async def _acquire_or_renew(self) -> bool:
        """client-go's tryAcquireOrRenew: True when this process now holds the Lease."""
        now = self._wall()
        held = self._observed
        if held is not None and held.holder == self._identity:
            # Fast path: renew what we wrote last; the resourceVersion guards against anyone in between.
            try:
                self._observe(await self._leases.replace(self._renewal(held, now)))
                return True
            except LeaseConflict:
                logger.info("leader election: the Lease changed under %s; reading it again", self._identity)
        current = await self._leases.get()
        if current is None:
            record = LeaseRecord(self._identity, now, now, self._lease_seconds, 0)
            self._observe(await self._leases.create(record))
            return True
        self._observe(current)
        if current.holder == self._identity:
            record = self._renewal(current, now)
        else:
            if self._leading:
                self._stop_leading(f"the Lease is held by {current.holder or 'nobody'}")
            if current.holder and self._clock() < self._observed_at + current.lease_duration_seconds:
                return False  # someone else holds a valid Lease
            record = LeaseRecord(
                self._identity, now, now, self._lease_seconds, current.lease_transitions + 1, current.resource_version
            )
        self._observe(await self._leases.replace(record))
        return True

    def _renewal(self, held: LeaseRecord, now: datetime) -> LeaseRecord:
        return LeaseRecord(
            self._identity,
            held.acquire_time or now,
            now,
            self._lease_seconds,
            held.lease_transitions,
            held.resource_version,
        )

    async def _write_release(self, held: LeaseRecord) -> None:
        now = self._wall()

        def released(base: LeaseRecord) -> LeaseRecord:
            return LeaseRecord("", now, now, 1, base.lease_transitions, base.resource_version)

        try:
            stored = await self._leases.replace(released(held))
        except LeaseConflict:
            current = await self._leases.get()
            if current is None or current.holder != self._identity:
                return  # nothing of ours to release
            stored = await self._leases.replace(released(current))
        self._observe(stored)
        logger.info("leader election: %s released the Lease", self._identity)

    def _observe(self, record: LeaseRecord) -> None:
        if record == self._observed:
            return
        before = self._observed.holder if self._observed is not None else None
        self._observed = record
        self._observed_at = self._clock()
        if record.holder != before and record.holder != self._identity:
            logger.info(
                "leader election: %s sees the Lease %s",
                self._identity,
                f"held by {record.holder}" if record.holder else "released",
            )

    async def _bounded(self, work: Coroutine[Any, Any, _T], limit: float) -> _T:
        """``work``'s result, or :class:`LeaseError` once ``limit`` seconds pass (on the injected clock)."""
        task = asyncio.ensure_future(work)
        timer = asyncio.ensure_future(self._sleep(max(limit, 0.0)))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            task.cancel()  # a no-op once done
        if task.done() and not task.cancelled():
            return task.result()
        raise LeaseError(f"no answer from the API server within {max(limit, 0.0):.1f}s")

    async def _pause_until(self, until: float) -> None:
        """Sleep until ``until``, waking at the renew deadline to stop leading on time."""
        while True:
            self._check_fence()
            now = self._clock()
            if now >= until or self._released:
                return
            step = until - now
            if self._leading:
                step = min(step, self._renewed_at + self._renew_deadline - now)
            await self._sleep(step)

    # -- transitions --------------------------------------------------------------------------
    def _check_fence(self) -> None:
        if self._leading and self._clock() - self._renewed_at >= self._renew_deadline:
            self._stop_leading(f"no successful renewal within the renew deadline ({self._renew_deadline:g}s)")

    def _failed(self, error: LeaseError, leading: bool) -> None:
        message = str(error)
        if leading:
            left = self._renewed_at + self._renew_deadline - self._clock()
            logger.warning(
                "leader election: %s could not renew the Lease (%.1fs left before it stops acting): %s",
                self._identity,
                max(left, 0.0),
                message,
            )
        elif isinstance(error, LeaseConflict):
            logger.info("leader election: %s lost a race for the Lease: %s", self._identity, message)
        elif message != self._last_error:
            logger.warning("leader election: %s could not acquire the Lease: %s", self._identity, message)
        else:
            logger.debug("leader election: %s could not acquire the Lease: %s", self._identity, message)
        self._last_error = message

    def _start_leading(self) -> None:
        self._leading = True
        self._transitions += 1
        logger.info("leader election: %s became the leader", self._identity)
        self._callback(self._on_started, "on_started_leading")

    def _stop_leading(self, reason: str) -> None:
        if not self._leading:
            return
        self._leading = False
        logger.info("leader election: %s stopped leading: %s", self._identity, reason)
        self._callback(self._on_stopped, "on_stopped_leading")

    def _callback(self, callback: Callable[[], None] | None, name: str) -> None:
        if callback is None:
            return
        try:
            callback()
        except Exception:
            logger.exception("leader election: %s failed", name)


def default_identity(environ: Mapping[str, str] | None = None) -> str:
    """``POD_NAME`` (the downward API), else the hostname plus a random 6-hex-digit suffix."""
    environ = os.environ if environ is None else environ
    pod = environ.get("POD_NAME", "").strip()
    if pod:
        return pod
    return f"{socket.gethostname()}-{secrets.token_hex(3)}"


#: The install's namespace (manifests/base): the Lease's namespace outside a cluster, so that a local
#: ``esml-operator run`` and the installed Deployment campaign for the same Lease and never both act.
INSTALL_NAMESPACE = "esml-system"


@dataclass(frozen=True)
class LeaseNamespace:
    """The Lease's namespace and where it came from (for the start-up log and errors)."""

    name: str
    source: str
    in_cluster: bool  # running in a pod: POD_NAMESPACE is set or the service account's namespace file is there


def lease_namespace(
    setting: str,
    *,
    environ: Mapping[str, str] | None = None,
    service_account_namespace: Path = SERVICE_ACCOUNT_NAMESPACE,
) -> LeaseNamespace:
    """The setting, else ``POD_NAMESPACE``, else the service account's namespace file, else the install's."""
    environ = os.environ if environ is None else environ
    pod_namespace = environ.get("POD_NAMESPACE", "").strip()
    try:
        account_namespace = service_account_namespace.read_text().strip()
    except OSError:
        account_namespace = ""
    in_cluster = bool(pod_namespace or account_namespace)
    if setting.strip():
        return LeaseNamespace(setting.strip(), "--lease-namespace", in_cluster)
    if pod_namespace:
        return LeaseNamespace(pod_namespace, "POD_NAMESPACE", in_cluster)
    if account_namespace:
        return LeaseNamespace(account_namespace, "the service account", in_cluster)
    return LeaseNamespace(INSTALL_NAMESPACE, "the install's namespace, the default outside a cluster", in_cluster)


def elector_from_settings(
    settings: Settings,
    api_client: Any,
    *,
    on_started_leading: Callable[[], None] | None = None,
    on_stopped_leading: Callable[[], None] | None = None,
) -> LeaderElector:
    """A :class:`LeaderElector` on the Lease the settings name, through ``api_client``.

    API requests time out after half the renew deadline (at least 1 s), as in
    controller-runtime.
    """
    namespace = lease_namespace(settings.lease_namespace)
    leases = KubernetesLeases(
        api_client, namespace.name, settings.lease_name, request_timeout=max(settings.renew_deadline / 2, 1.0)
    )
    identity = settings.identity.strip() or default_identity()
    logger.info(
        "leader election: Lease %s/%s (namespace: %s), identity %s",
        namespace.name,
        settings.lease_name,
        namespace.source,
        identity,
    )
    return LeaderElector(
        leases,
        identity=identity,
        lease_duration=settings.lease_duration,
        renew_deadline=settings.renew_deadline,
        retry_period=settings.retry_period,
        on_started_leading=on_started_leading,
        on_stopped_leading=on_stopped_leading,
    )
