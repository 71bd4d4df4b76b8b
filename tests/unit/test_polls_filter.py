"""The tests' poll filter counts the operator's cluster-wide ``_stats`` poll and nothing else."""

from __future__ import annotations

import re
from typing import Any

from tests.support.polls import STATS_POLL, STATS_POLL_RE, is_stats_poll, stats_polls

#: Paths ending in ``/_stats`` that are not the poll: the capacity numbers and one model's (or all models') stats.
NOT_THE_POLL = [
    "/_ml/memory/_stats",
    "/_ml/memory/ml-0/_stats",
    "/_ml/trained_models/ner/_stats",
    "/_ml/trained_models/_stats",
    "/_ml/trained_models/_all/_stats/extra",
]


class Recorded:
    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def requests(self, path_contains: str = "", method: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.items if path_contains in r["path"] and method in (None, r["method"])]


def _request(path: str, at: float = 0.0, method: str = "GET") -> dict[str, Any]:
    return {"method": method, "path": path, "wall_time": at}


def test_only_the_cluster_wide_poll_counts() -> None:
    assert is_stats_poll(_request(STATS_POLL))
    assert not is_stats_poll(_request(STATS_POLL, method="POST"))
    for path in NOT_THE_POLL:
        assert not is_stats_poll(_request(path)), path
        assert not re.search(STATS_POLL_RE, path), path
    assert re.search(STATS_POLL_RE, STATS_POLL)


def test_capacity_requests_while_short_do_not_count_as_resync_passes() -> None:
    log = [
        _request(STATS_POLL, 1.0),
        _request("/_ml/info", 1.1),
        _request("/_ml/memory/_stats", 1.2),
        _request(STATS_POLL, 4.0),
        _request("/_ml/memory/_stats", 4.2),
    ]
    assert len([r for r in log if "/_stats" in r["path"]]) == 4  # what a substring filter counted
    assert [r["wall_time"] for r in stats_polls(Recorded(log))] == [1.0, 4.0]
    assert [r["wall_time"] for r in stats_polls(Recorded(log), since=2.0)] == [4.0]
