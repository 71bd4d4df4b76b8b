"""bench.cost: what one /scale change costs, counted from outside (API writes, echoed watch events, ES requests)."""

from __future__ import annotations

from typing import Any

from bench.cost import ChangeCost, cost_rows, echoes, es_kind
from bench.es import EsRequest
from bench.kube import ScaleAck
from bench.latency import Change, Target


def _change(name: str, rv: str, sent: float) -> Change:
    sim: Any = object()
    return Change(Target("bench", name, name, sim), ScaleAck("bench", name, 2, sent, sent + 0.01, rv), False)


def _event(name: str, rv: str, t: float) -> dict[str, Any]:
    return {"t": t, "type": "MODIFIED", "ns": "bench", "name": name, "rv": rv}


def test_only_events_no_patch_caused_count_as_the_operators() -> None:
    changes = [_change("a", "10", 100.0), _change("b", "20", 100.5)]
    events = [
        _event("a", "9", 99.0),  # before the first change: not counted
        _event("a", "10", 100.01),  # the bench's own PATCH
        _event("a", "11", 100.05),  # the operator's status write
        _event("b", "20", 100.51),
        _event("b", "21", 100.6),
        _event("b", "22", 100.7),  # a second status write for one change
        _event("c", "30", 100.8),  # a resource nobody changed
    ]
    assert echoes(events, changes) == 3
    assert echoes(events, []) == 0


def test_requests_are_counted_by_kind() -> None:
    def req(method: str, path: str) -> EsRequest:
        return EsRequest(method, path, 0.0, None, None)

    assert es_kind(req("POST", "/_ml/trained_models/m/deployment/_update")) == "_update"
    assert es_kind(req("GET", "/_ml/trained_models/_all/_stats")) == "_stats"
    assert es_kind(req("GET", "/")) == "GET /"
    assert es_kind(req("GET", "/_ml/info")) == "GET info"


def test_rows_are_per_change_against_a_floor_of_one() -> None:
    cost = ChangeCost(
        changes=4, api_writes={"modeldeployments/status": 8, "events": 4}, echoes=8, es_requests={"_update": 4}
    )
    writes, events, requests = cost_rows(cost)
    assert (writes.value, writes.reference, writes.ratio) == (3.0, 1, 3.0)
    assert (events.value, requests.value) == (2.0, 1.0)
    assert ChangeCost(0, {}, 0, {}).per_change(5) == 0.0
