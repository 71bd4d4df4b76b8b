"""controller/poster.py: Events leave the pass, in order per resource, bounded, and only while leading."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from esml_operator.controller.fence import Deposed
from esml_operator.controller.poster import EventPoster
from esml_operator.reconcile import Event
from tests.unit.runtime_fakes import until


def _event(reason: str) -> Event:
    return Event("Normal", reason, f"{reason} happened")


def _body(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"}}


class Sink:
    """Records what was sent; ``gate`` (when cleared) holds every send, ``sending`` counts the ones under way."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.sending = 0
        self.depose = False

    async def send(self, body: Mapping[str, Any], event: Event) -> None:
        if self.depose:
            raise Deposed("not the leader")
        self.sending += 1
        try:
            await self.gate.wait()
            await asyncio.sleep(0)
            self.sent.append((body["metadata"]["name"], event.reason))
        finally:
            self.sending -= 1


async def test_post_returns_before_the_events_are_sent_and_drain_waits_for_them() -> None:
    sink = Sink()
    sink.gate.clear()
    poster = EventPoster(sink.send)
    poster.post("uid-a", _body("a"), [_event("One"), _event("Two")])
    assert sink.sent == [] and poster.pending() == 1
    sink.gate.set()
    await poster.drain()
    assert sink.sent == [("a", "One"), ("a", "Two")] and poster.posted == 2 and poster.pending() == 0


async def test_a_resources_batches_are_sent_in_the_order_they_were_posted() -> None:
    sink = Sink()
    poster = EventPoster(sink.send)
    for i in range(20):
        poster.post("uid-a", _body("a"), [_event(f"E{i}")])
        poster.post("uid-b", _body("b"), [_event(f"E{i}")])
    await poster.drain()
    for name in "ab":
        assert [reason for who, reason in sink.sent if who == name] == [f"E{i}" for i in range(20)]


async def test_batches_of_different_resources_are_sent_side_by_side() -> None:
    sink = Sink()
    sink.gate.clear()
    poster = EventPoster(sink.send, in_flight=20)
    for i in range(10):
        poster.post(f"uid-{i}", _body(str(i)), [_event("E")])
    await until(lambda: sink.sending == 10, what="ten sends under way at once")
    sink.gate.set()
    await poster.drain()
    assert len(sink.sent) == 10


async def test_no_more_than_in_flight_events_are_sent_at_once() -> None:
    sink = Sink()
    sink.gate.clear()
    poster = EventPoster(sink.send, in_flight=3)
    for i in range(10):
        poster.post(f"uid-{i}", _body(str(i)), [_event("E")])
    await until(lambda: sink.sending == 3, what="three sends under way")
    await asyncio.sleep(0.05)  # give a fourth the chance to start, were it allowed to
    assert sink.sending == 3
    sink.gate.set()
    await poster.drain()
    assert len(sink.sent) == 10


async def test_a_full_backlog_drops_new_batches_counts_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink()
    sink.gate.clear()
    poster = EventPoster(sink.send, in_flight=1, backlog=2)
    poster.post("uid-a", _body("a"), [_event("One")])
    poster.post("uid-b", _body("b"), [_event("Two")])
    poster.post("uid-c", _body("c"), [_event("Three"), _event("Four")])  # returns at once: the pass never waits
    poster.post("uid-d", _body("d"), [_event("Five")])
    assert poster.dropped == 2 and poster.pending() == 2
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    # warned at the first drop, not again within the minute
    assert warnings == ["2 Event(s) dropped: 2 batches wait for the API server already (status is still written)"]
    sink.gate.set()
    await poster.drain()
    assert sorted(reason for _, reason in sink.sent) == ["One", "Two"]
    poster.post("uid-e", _body("e"), [_event("Later")])  # room again
    await poster.drain()
    assert ("e", "Later") in sink.sent


async def test_cancel_drops_every_batch_not_yet_sent() -> None:
    sink = Sink()
    sink.gate.clear()
    poster = EventPoster(sink.send, in_flight=1)
    for name in "abc":
        poster.post(f"uid-{name}", _body(name), [_event("E")])
    await until(lambda: sink.sending == 1, what="one send under way")
    poster.cancel()
    await poster.drain()
    sink.gate.set()
    await asyncio.sleep(0.05)
    assert sink.sent == [] and poster.pending() == 0
    poster.post("uid-d", _body("d"), [_event("Later")])  # leading again: posting works as before
    await poster.drain()
    assert sink.sent == [("d", "Later")]


async def test_a_deposed_send_is_logged_and_dropped_and_the_next_batch_still_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="esml_operator.controller.poster")
    sink = Sink()
    poster = EventPoster(sink.send)
    sink.depose = True
    poster.post("uid-a", _body("a"), [_event("One")])
    await poster.drain()
    assert sink.sent == [] and "events not posted: not the leader" in caplog.text
    sink.depose = False
    poster.post("uid-a", _body("a"), [_event("Two")])
    await poster.drain()
    assert sink.sent == [("a", "Two")]


async def test_close_posts_what_is_queued_then_gives_up_at_its_timeout(caplog: pytest.LogCaptureFixture) -> None:
    sink = Sink()
    poster = EventPoster(sink.send)
    poster.post("uid-a", _body("a"), [_event("Queued")])
    await poster.close(within=2.0)
    assert sink.sent == [("a", "Queued")]

    sink.gate.clear()
    poster.post("uid-b", _body("b"), [_event("Stuck")])
    await poster.close(within=0.1)
    assert poster.pending() == 0 and ("b", "Stuck") not in sink.sent
    assert "1 event batch(es) not posted before shutdown" in caplog.text


async def test_posting_nothing_queues_nothing() -> None:
    sink = Sink()
    poster = EventPoster(sink.send)
    poster.post("uid-a", _body("a"), [])
    assert poster.pending() == 0
