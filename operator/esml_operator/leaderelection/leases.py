"""What the leader elector needs from Kubernetes: get, create and replace one Lease.

:class:`esml_operator.kube.leases.KubernetesLeases` implements it on the API
server; tests use in-memory fakes.
"""

from __future__ import annotations

from typing import Protocol

from esml_operator.kube.leases import LeaseRecord


class LeaseApi(Protocol):
    """One named Lease in one namespace."""

    async def get(self) -> LeaseRecord | None:
        """The Lease as stored now, or ``None`` if it does not exist."""
        ...

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        """Create the Lease; :class:`LeaseConflict` if it already exists. Returns what was stored."""
        ...

    async def replace(self, record: LeaseRecord) -> LeaseRecord:
        """Overwrite the Lease if it is still at ``record.resource_version``, else :class:`LeaseConflict`."""
        ...
