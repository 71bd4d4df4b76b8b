"""One ``coordination.k8s.io/v1`` Lease, read and written with optimistic concurrency.

:class:`esml_operator.leaderelection.leases.LeaseApi` is what the leader
elector needs from Kubernetes: get, create and replace one Lease. Every write
carries the ``resourceVersion`` it was based on, so two writers racing from the
same read cannot both win: the API server
accepts the first and answers ``409 Conflict`` to the second, which becomes a
:class:`LeaseConflict`. Any other failure becomes a :class:`LeaseError` whose
message says what failed (never a traceback, never credentials). Both are the
vocabulary of :mod:`esml_operator.kube.errors`.

:class:`KubernetesLeases` is the implementation on ``kubernetes.aio``
(``CoordinationV1Api``). Give it a ``request_timeout`` below the elector's renew
deadline (controller-runtime uses half of it): a call still unanswered then is
cancelled and its connection closed.

Lease times are MicroTime: RFC 3339 with exactly six fractional digits. The
API server refuses a MicroTime without them, so they are always written.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from kubernetes.aio import client

from esml_operator.kube.errors import Conflict, KubeError, NotFound, call, unless_missing

_T = TypeVar("_T")

LeaseError = KubeError
"""A Lease API call failed; the message says which call and why."""
LeaseConflict = Conflict
"""Someone else wrote the Lease first: it already exists, or it changed since it was read."""


@dataclass(frozen=True)
class LeaseRecord:
    """The leader-election fields of a Lease's spec, plus the ``resourceVersion`` they were read at.

    ``holder`` is ``""`` when nobody holds the Lease. ``resource_version`` is
    ignored by :meth:`KubernetesLeases.create` and is the precondition of
    :meth:`KubernetesLeases.replace`.
    """

    holder: str
    acquire_time: datetime | None
    renew_time: datetime | None
    lease_duration_seconds: int
    lease_transitions: int
    resource_version: str = ""


class MicroTime(datetime):
    """A UTC datetime that always serialises with six fractional digits, as Kubernetes MicroTime requires."""

    def isoformat(self, sep: str = "T", timespec: str = "microseconds") -> str:
        return super().isoformat(sep, timespec)


def micro_time(moment: datetime) -> MicroTime:
    """``moment`` in UTC as a :class:`MicroTime` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return MicroTime(utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC)


class KubernetesLeases:
    """``LeaseApi`` on ``kubernetes.aio``'s ``CoordinationV1Api`` for the Lease ``namespace/name``.

    ``api_client`` is the client of :func:`esml_operator.kube.config.load_api_client`. Labels, annotations,
    owner references and spec fields this module does not manage (such as
    ``strategy``) survive a replace: the last object read is the base of the
    next write, as client-go's LeaseLock does.
    """

    def __init__(self, api_client: Any, namespace: str, name: str, *, request_timeout: float = 5.0) -> None:
        if not namespace or not name:
            raise ValueError("a Lease needs a namespace and a name")
        self._api = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self._timeout = float(request_timeout)
        self._last: Any = None  # the last V1Lease read or written

    async def get(self) -> LeaseRecord | None:
        request = self._api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self._timeout)
        lease = await unless_missing(f"reading Lease {self.namespace}/{self.name}", request)
        if lease is None:
            return None
        self._last = lease
        return _record(lease)

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        body = client.V1Lease(
            api_version="coordination.k8s.io/v1",
            kind="Lease",
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=_spec(None, record),
        )
        try:
            lease = await self._call(
                "creating", self._api.create_namespaced_lease(self.namespace, body, _request_timeout=self._timeout)
            )
        except Conflict:
            raise LeaseConflict(f"Lease {self.namespace}/{self.name} already exists") from None
        self._last = lease
        return _record(lease)

    async def replace(self, record: LeaseRecord) -> LeaseRecord:
        base = copy.deepcopy(self._last) if self._last is not None else None
        metadata = base.metadata if base is not None and base.metadata is not None else None
        if metadata is None:
            metadata = client.V1ObjectMeta(name=self.name, namespace=self.namespace)
        metadata.resource_version = record.resource_version
        metadata.managed_fields = None  # omitted: the server keeps its own
        body = client.V1Lease(
            api_version="coordination.k8s.io/v1",
            kind="Lease",
            metadata=metadata,
            spec=_spec(base.spec if base is not None else None, record),
        )
        try:
            request = self._api.replace_namespaced_lease(
                self.name, self.namespace, body, _request_timeout=self._timeout
            )
            lease = await self._call("replacing", request)
        except Conflict:
            raise LeaseConflict(
                f"Lease {self.namespace}/{self.name} changed since resourceVersion {record.resource_version}"
            ) from None
        except NotFound:
            raise LeaseConflict(f"Lease {self.namespace}/{self.name} was deleted") from None
        self._last = lease
        return _record(lease)

    async def _call(self, verb: str, request: Awaitable[_T]) -> _T:
        return await call(f"{verb} Lease {self.namespace}/{self.name}", request)


def _spec(base: Any, record: LeaseRecord) -> Any:
    spec = copy.deepcopy(base) if base is not None else client.V1LeaseSpec()
    spec.holder_identity = record.holder
    spec.acquire_time = micro_time(record.acquire_time) if record.acquire_time is not None else None
    spec.renew_time = micro_time(record.renew_time) if record.renew_time is not None else None
    spec.lease_duration_seconds = record.lease_duration_seconds
    spec.lease_transitions = record.lease_transitions
    return spec


def _record(lease: Any) -> LeaseRecord:
    spec = lease.spec
    return LeaseRecord(
        holder=str(getattr(spec, "holder_identity", None) or ""),
        acquire_time=_as_utc(getattr(spec, "acquire_time", None)),
        renew_time=_as_utc(getattr(spec, "renew_time", None)),
        lease_duration_seconds=int(getattr(spec, "lease_duration_seconds", None) or 0),
        lease_transitions=int(getattr(spec, "lease_transitions", None) or 0),
        resource_version=str(lease.metadata.resource_version or ""),
    )


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"unexpected Lease time {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
