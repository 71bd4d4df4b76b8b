"""A steady cluster costs one request per resync round; a restarted ML node makes the operator read GET / again."""

from __future__ import annotations

from esml_operator.manager.operator import Operator
from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until

URL = "https://es-a:9200"


def _idle(op: Operator) -> bool:
    return not op.runtime.queue.running and not op.runtime.queue.pending("uid-ner")


async def _round(es: FakeES, op: Operator) -> None:
    polls = es.count("_stats")
    op.reconciler.observer.new_round()
    op.runtime.queue.add("uid-ner")
    await until(lambda: es.count("_stats") > polls and _idle(op), what="a resync round's pass")


async def test_a_rolling_upgrade_is_read_at_the_round_after_the_node_restarted() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube)
    op.runtime.observe("ADDED", resource("ner", URL, numberOfAllocations=1))
    await until(lambda: "ner" in es.deployments, what="started")
    await until(lambda: _idle(op), what="idle")
    await _round(es, op)
    roots, before = es.calls.count("GET /"), len(es.calls)
    for _ in range(3):
        await _round(es, op)
    assert es.calls[before:] == ["GET /_ml/trained_models/_all/_stats"] * 3  # steady: one request per round
    es.version = "9.3.0"
    es.node = {**es.node, "ephemeral_id": "boot-2", "version": "9.3.0"}  # n1 restarted on the new version
    await _round(es, op)  # this round's poll sees the restart
    await _round(es, op)  # the next one reads GET / again
    assert es.calls.count("GET /") == roots + 1
    await _round(es, op)
    assert es.calls.count("GET /") == roots + 1  # and then no more
    await op.close()
