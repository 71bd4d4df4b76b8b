"""bench.fig_restart: figure 3's leader-election rows hold issue 20's 5 s target against the Lease-aware floor."""

from __future__ import annotations

from bench.fig_restart import restart_row


def test_a_replacement_that_waits_out_the_lease_misses_the_target() -> None:
    waited = restart_row("a replacement pod (new identity)", 18.2, 3.0 + 13.5, "the old Lease running out + the floor")
    assert (waited.met, waited.lower_bound, round(waited.ratio or 0, 2)) == (False, False, 1.1)
    same = restart_row("the container restarted in its pod (same identity)", 4.7, 3.0, "as without election")
    assert same.met is True


def test_a_change_that_never_arrives_is_a_lower_bound() -> None:
    row = restart_row("a replacement pod (new identity)", None, 3.0, "floor")
    assert (row.value, row.lower_bound, row.met) == (60.0, True, False)
