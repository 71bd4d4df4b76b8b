"""bench.tail: figure 1's slow changes are attributed from the operator's own ``change timing:`` lines."""

from __future__ import annotations

from typing import Any

from bench import tail
from bench.kube import ScaleAck
from bench.latency import Change, Target

LOG = "2026-12-06 22:00:00,000 INFO    esml_operator.controller.timing: change timing: "


def _change(target: Target, rv: int, sent: float, latency_ms: float, watch_ms: float = 2.0) -> Change:
    ack = ScaleAck(target.namespace, target.name, 2, sent, sent + 0.001, str(rv))
    return Change(target, ack, second_of_pair=False, latency_ms=latency_ms, watch_ms=watch_ms)


def _target(name: str) -> Target:
    sim: Any = object()
    return Target("bench", name, name, sim)


def test_a_slow_change_is_blamed_on_the_largest_stage_before_its_write() -> None:
    a = _target("a")
    changes = [_change(a, 10, 100.0, 900.0), _change(a, 20, 110.0, 5.0)]
    log = [
        "2026-12-06 22:00:00,000 INFO    esml_operator.manager.run: starting",
        LOG + "resource=bench/a rv=10 outcome=action_succeeded queued_ms=850.0 poll_ms=0.1 slot_ms=0.0 "
        "request_ms=1.0 sent_ms=851.0 total_ms=860.0",
    ]
    counted = tail.causes(changes, log, floor_ms=1.0)
    assert counted == {tail.BEFORE_WRITE["queued"]: 1}
    assert tail.summary(counted, 2).startswith("1 of 2 changes took over 100 ms: 1 queued behind")


def test_a_slow_change_served_by_a_quick_pass_is_blamed_on_what_came_before_or_after_the_operator() -> None:
    a, b = _target("a"), _target("b")
    changes = [
        _change(a, 10, 100.0, 300.0, watch_ms=250.0),  # the watch delivered it late
        _change(a, 30, 101.0, 400.0),  # delivered quickly, and the operator sent it quickly: the request
        _change(b, 15, 100.5, 500.0),
    ]
    # A slow line of a's later change (rv 40, sent after both arrived) must not be taken for theirs.
    log = [
        LOG + "resource=bench/a rv=40 outcome=action_succeeded queued_ms=0.0 poll_ms=700.0 sent_ms=701.0 "
        "total_ms=702.0",
        LOG + "resource=bench/b rv=15 outcome=no_action queued_ms=0.0 poll_ms=0.0 sent_ms=none total_ms=150.0",
    ]
    changes.append(_change(a, 40, 200.0, 5.0))
    counted = tail.causes(changes, log, floor_ms=1.0)
    assert counted == {tail.WATCH: 1, tail.AFTER: 1, tail.NOT_SENT: 1}


def test_no_slow_change_says_so_and_an_operator_without_timing_lines_is_named() -> None:
    a = _target("a")
    assert tail.summary(tail.causes([_change(a, 1, 0.0, 20.0)], [], floor_ms=1.0), 1) == (
        "no change of 1 took over 100 ms"
    )
    assert tail.causes([_change(a, 1, 0.0, 200.0)], [], floor_ms=1.0) == {tail.UNMATCHED: 1}
