"""The reliability table is computed from the records as documented (no cluster needed)."""

from __future__ import annotations

import pytest

from tests.faults.report import rows, table


@pytest.mark.faults_smoke
def test_the_table_sums_the_records() -> None:
    records = [
        {
            "test": "a",
            "scenario": "outage",
            "faults": 2,
            "resources": 3,
            "converged": 3,
            "gaps": [1.5],
            "outages": [{"name": "refused 30 s", "seconds": 30, "requests": 0, "connects": 15}],
        },
        {
            "test": "b",
            "scenario": "kills",
            "faults": 20,
            "resources": 60,
            "converged": 60,
            "gaps": [4.0],
            "trials": {"seed": 7, "run": 20, "converged": 20, "writes": 31, "wrong": 0, "repeats": 1, "regressions": 0},
        },
        {"test": "c", "scenario": "replicas", "faults": 4, "takeovers": [3.0, 3.4]},
        {"test": "a", "leaks": {"hits": 0, "places": 6, "bytes": 1000}},
        {"test": "b", "leaks": {"hits": 0, "places": 6, "bytes": 500}},
    ]
    found = dict(rows(records))
    assert found["Faults injected"] == "26"
    assert found["Resources converged"] == "63 of 63"
    assert found["ES requests during an outage"] == "refused 30 s: 0 requests, 15 connection attempts in 30 s (30/min)"
    assert found["Longest reconcile gap"] == "4.0 s (kills)"
    assert found["Takeover time (SIGKILL of the leader)"] == "median 3.2 s, max 3.4 s (2 takeovers)"
    assert found["SIGKILL trials converged"].startswith("20 of 20 (seeds 7; 31 writes judged, 0 wrong, 1 idempotent")
    assert found["Secrets leaked"] == "0 (2 scans, 12 places, 1,500 bytes)"
    assert found["Idempotent repeats elsewhere"] == "0"
    assert table(records).splitlines()[:2] == ["| measure | result |", "|---|---|"]


@pytest.mark.faults_smoke
def test_repeats_outside_the_trials_are_listed() -> None:
    found = dict(rows([{"test": "x", "scenario": "namespace deleted", "repeats": 1}]))
    assert found["Idempotent repeats elsewhere"] == "1 (namespace deleted)"


@pytest.mark.faults_smoke
def test_a_leak_shows_in_the_table() -> None:
    found = dict(rows([{"test": "x", "leaks": {"hits": 2, "places": 1, "bytes": 10}}]))
    assert found["Secrets leaked"].startswith("2 ")
