"""bench.fig_restart: figure 3's leader-election rows hold issue 20's 5 s target against the Lease-aware floor."""

from __future__ import annotations

from bench.fig_restart import replacement_rows, restart_row


def test_a_replacement_pod_is_held_to_the_target_from_the_lease_running_out() -> None:
    # 18.2 s from its start, 13.5 s of which the dead leader's Lease was still valid: 4.7 s of its own.
    raw, own = replacement_rows(18.2, 13.5, 3.0)
    assert (raw.limit, raw.met, round(raw.ratio or 0, 2)) == (None, None, 1.1)
    assert (round(own.value, 2), own.limit, own.met) == (4.7, 5.0, True)
    slow = replacement_rows(20.0, 13.5, 3.0)[1]
    assert (round(slow.value, 2), slow.met) == (6.5, False)


def test_the_same_identity_is_held_to_the_target_from_its_start() -> None:
    same = restart_row("the container restarted in its pod (same identity)", 4.7, 3.0, "as without election")
    assert same.met is True
    late = restart_row("the container restarted in its pod (same identity)", 5.3, 3.0, "as without election")
    assert late.met is False


def test_a_change_that_never_arrives_is_a_lower_bound() -> None:
    row = restart_row("a replacement pod (new identity)", None, 3.0, "floor")
    assert (row.value, row.lower_bound, row.met) == (60.0, True, False)
    raw, own = replacement_rows(None, 13.5, 3.0)
    assert (raw.lower_bound, own.lower_bound, own.met) == (True, True, False)
