"""What KubernetesLeases sends and reads, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from kubernetes.aio import client as kube

from esml_operator.kube.leases import LeaseRecord, _record, _spec, micro_time


def sent(record: LeaseRecord) -> dict[str, Any]:
    body = kube.V1Lease(metadata=kube.V1ObjectMeta(name="l"), spec=_spec(None, record))
    client: Any = kube.ApiClient()
    serialized: dict[str, Any] = client.sanitize_for_serialization(body)
    return serialized


def test_times_always_carry_six_fractional_digits() -> None:
    """The API server refuses a MicroTime without them; the stock client drops them on whole seconds."""
    whole = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    spec = sent(LeaseRecord("me", whole, whole + timedelta(microseconds=7), 15, 1))["spec"]
    assert spec == {
        "holderIdentity": "me",
        "acquireTime": "2030-01-02T03:04:05.000000+00:00",
        "renewTime": "2030-01-02T03:04:05.000007+00:00",
        "leaseDurationSeconds": 15,
        "leaseTransitions": 1,
    }


def test_times_are_converted_to_utc() -> None:
    local = datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert micro_time(local).isoformat() == "2030-01-02T03:04:05.000000+00:00"
    assert micro_time(datetime(2030, 1, 2, 3, 4, 5)).isoformat() == "2030-01-02T03:04:05.000000+00:00"


def test_a_lease_without_spec_fields_reads_as_free() -> None:
    lease = kube.V1Lease(metadata=kube.V1ObjectMeta(name="l", resource_version="42"), spec=kube.V1LeaseSpec())
    assert _record(lease) == LeaseRecord("", None, None, 0, 0, "42")
