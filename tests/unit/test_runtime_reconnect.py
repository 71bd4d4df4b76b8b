"""An unreachable Elasticsearch is tried again when the log says, not at the next resync (issue 17).

The real runtime objects against a refusing fake: the connection back-off
(1 s, 2 s, 4 s, ...) logs the next attempt, and the pass that saw the failure
is requeued for that moment. Before the fix the second attempt came one resync
interval (here 30 s) later.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until

URL = "https://es-a:9200"
RESYNC = 30.0


async def test_a_refused_connection_is_retried_on_the_back_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="esml_operator.elasticsearch.connections")
    dead, kube = FakeES("dead"), FakeKube()
    dead.refuse = True
    op = operator_for({URL: dead}, kube, resync_interval=RESYNC)
    loop = asyncio.get_running_loop()
    started = loop.time()
    op.runtime.observe("ADDED", resource("r", URL))
    # Attempts at about 0 and 1 s (back-off 1 s, then 2 s): well before the resync at 30 s.
    await until(lambda: dead.count("GET /") >= 2, within=RESYNC - 5, what="a second connection attempt")
    assert loop.time() - started < RESYNC
    dead.refuse = False  # Elasticsearch comes back: the attempt at about 3 s connects, long before a resync
    await until(lambda: _reachable(kube), within=RESYNC - 5, what="ElasticsearchReachable=True")
    promised = [
        float(m[1])
        for r in caplog.records
        if r.levelno == logging.WARNING and (m := re.search(r"next attempt in ([0-9.]+)s", r.getMessage()))
    ]
    assert promised == [1.0, 2.0]
    await op.close()


def _reachable(kube: FakeKube) -> bool:
    last = [status for who, status in kube.patches if who == "r"]
    conditions = {c["type"]: c for c in last[-1]["conditions"]} if last else {}
    return bool(conditions.get("ElasticsearchReachable", {}).get("status") == "True")


async def test_a_failed_poll_is_retried_on_the_back_off_not_at_the_resync() -> None:
    """Connected, then the cluster stops answering: its polls are retried after 0-1 s, 0-2 s, 0-4 s, ... (the
    back-off decide computes from the consecutive failures), each with a poll of its own."""
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube, resync_interval=RESYNC)
    op.runtime.observe("ADDED", resource("r", URL))
    await until(lambda: _reachable(kube), what="connected")
    await until(lambda: not op.runtime.queue.running, what="idle")
    es.refuse = True
    polls = es.count("/_stats")
    op.reconciler.observer.new_round()  # a resync round: its pass wants a new poll, which fails
    op.runtime.queue.add("uid-r")
    await until(lambda: es.count("/_stats") >= polls + 3, within=RESYNC - 10, what="two retries of the poll")
    assert not _reachable(kube)
    es.refuse = False
    await until(lambda: _reachable(kube), within=RESYNC - 10, what="ElasticsearchReachable=True again")
    await op.close()
