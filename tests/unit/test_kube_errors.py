"""Every failed Kubernetes call of the operator's own reads in one vocabulary (kube/errors.py), without a server."""

from __future__ import annotations

import pytest
from kubernetes.aio.client import ApiException

from esml_operator.kube import errors


async def failing(error: BaseException) -> None:
    raise error


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, errors.Forbidden),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (422, errors.Invalid),
        (429, errors.Unavailable),
        (500, errors.Unavailable),
        (503, errors.Unavailable),
    ],
)
async def test_statuses_map_to_one_kind_each(status: int, kind: type[errors.KubeError]) -> None:
    error = ApiException(status=status, reason="Why")
    error.body = '{"kind":"Status","message":"the server says"}'
    with pytest.raises(kind) as raised:
        await errors.call("reading Secret ml/es", failing(error))
    assert type(raised.value) is kind
    assert str(raised.value) == f"reading Secret ml/es: HTTP {status} Why: the server says"
    assert (raised.value.status, raised.value.reason) == (status, "Why")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


async def test_a_timeout_is_a_timeout() -> None:
    with pytest.raises(errors.Timeout, match=r"^patching status of ml/a: no answer within the request timeout$"):
        await errors.call("patching status of ml/a", failing(TimeoutError()))


async def test_a_transport_failure_is_unavailable_in_one_line() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed\n('127.0.0.1', 1)")
    with pytest.raises(errors.Unavailable) as raised:
        await errors.call("reading Lease a/b", failing(refused))
    assert (raised.value.status, raised.value.reason) == (0, "")
    assert (
        str(raised.value)
        == "reading Lease a/b: ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 1)"
    )


async def test_a_result_passes_through() -> None:
    async def answer() -> int:
        return 42

    assert await errors.call("anything", answer()) == 42


@pytest.mark.parametrize(
    ("status", "reason", "body", "expected"),
    [
        (
            403,
            "Forbidden",
            '{"kind":"Status","message":"leases is forbidden: no"}',
            "HTTP 403 Forbidden: leases is forbidden: no",
        ),
        (500, "Internal Server Error", "not json", "HTTP 500 Internal Server Error"),
        (0, "SSLError\ncertificate verify failed", None, "SSLError certificate verify failed"),
    ],
)
def test_api_errors_read_as_one_line(status: int, reason: str, body: str | None, expected: str) -> None:
    error = ApiException(status=status, reason=reason)
    error.body = body
    assert errors.api_message(error) == expected


def test_long_messages_are_cut() -> None:
    cut = errors.short("x" * 1000)
    assert len(cut) == errors.MESSAGE_LIMIT and cut.endswith("...")


async def test_unless_missing_reads_a_404_as_none_and_nothing_else() -> None:
    async def answer() -> str:
        return "there"

    assert await errors.unless_missing("reading Secret ml/es", failing(ApiException(status=404))) is None
    assert await errors.unless_missing("reading Secret ml/es", answer()) == "there"
    with pytest.raises(errors.Forbidden):
        await errors.unless_missing("reading Secret ml/es", failing(ApiException(status=403)))
