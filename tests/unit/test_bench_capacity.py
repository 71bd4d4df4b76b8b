"""Figure 2's capacity rows count ``_ml/info`` and ``_ml/memory/_stats`` by exact path, per resync interval."""

from __future__ import annotations

from bench.es import EsRequest
from bench.fig_capacity import ShortCost, by_kind, capacity_reads, capacity_rows

INTERVAL = 5.0


def _log(paths_per_pass: list[str], passes: int) -> list[EsRequest]:
    """``paths_per_pass`` sent at the start of each of ``passes`` resync passes."""
    return [
        EsRequest("GET", path, n * INTERVAL + i * 0.01, None, None)
        for n in range(passes)
        for i, path in enumerate(paths_per_pass)
    ]


def test_only_the_two_capacity_paths_count() -> None:
    log = _log(["/_ml/trained_models/_all/_stats", "/_ml/info", "/_ml/memory/_stats"], passes=4)
    assert capacity_reads(log, 4 * INTERVAL, INTERVAL) == 2.0
    assert capacity_reads(_log(["/_ml/trained_models/_all/_stats"], passes=4), 4 * INTERVAL, INTERVAL) == 0.0
    assert by_kind(log, 4 * INTERVAL, INTERVAL) == {"_ml/info": 1.0, "_ml/memory/_stats": 1.0, "_stats poll": 1.0}


def test_uncached_reads_miss_the_target() -> None:
    """Two short deployments read separately (no per-cluster cache) would be 4 reads per interval: MISSED."""
    log = _log(["/_ml/trained_models/_all/_stats", *["/_ml/info", "/_ml/memory/_stats"] * 2], passes=4)
    cost = ShortCost(by_kind(log, 4 * INTERVAL, INTERVAL), others=0.0, window=4 * INTERVAL, to_short=1.0)
    steady, short, others, total = capacity_rows(0.0, 1.0, cost)
    assert (steady.met, short.value, short.met, others.met) == (True, 4.0, False, True)
    assert total.value == 5.0 and total.ratio == 5.0 and total.met is None
