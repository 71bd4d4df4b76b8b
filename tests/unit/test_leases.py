"""What KubernetesLeases sends and how it reports API errors, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import kubernetes
import pytest

from esml_operator.kube.leases import LeaseRecord, _api_message, _record, _spec, micro_time


def sent(record: LeaseRecord) -> dict[str, Any]:
    body = kubernetes.client.V1Lease(metadata=kubernetes.client.V1ObjectMeta(name="l"), spec=_spec(None, record))
    client: Any = kubernetes.client.ApiClient()
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
    lease = kubernetes.client.V1Lease(
        metadata=kubernetes.client.V1ObjectMeta(name="l", resource_version="42"), spec=kubernetes.client.V1LeaseSpec()
    )
    assert _record(lease) == LeaseRecord("", None, None, 0, 0, "42")


@pytest.mark.parametrize(
    ("status", "reason", "body", "expected"),
    [
        (
            403, "Forbidden", '{"kind":"Status","message":"leases is forbidden: no"}',
            "HTTP 403 Forbidden: leases is forbidden: no",
        ),
        (500, "Internal Server Error", "not json", "HTTP 500 Internal Server Error"),
        (0, "SSLError\ncertificate verify failed", None, "SSLError certificate verify failed"),
    ],
)  # fmt: skip
def test_api_errors_read_as_one_line(status: int, reason: str, body: str | None, expected: str) -> None:
    error = kubernetes.client.ApiException(status=status, reason=reason)
    error.body = body
    assert _api_message(error) == expected
