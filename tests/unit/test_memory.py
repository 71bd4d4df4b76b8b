"""controller/memory.py: what a resource's passes remember, counted and drawn in one place."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from esml_operator.controller import memory
from esml_operator.controller.memory import Connection, Entry, Observed, delivered, remember, spec_of, wrote
from esml_operator.elasticsearch import errors as es
from esml_operator.elasticsearch.connections import ConnectionConfig
from esml_operator.reconcile import ActionFailure, Failed, ModelDeploymentSpec, SpecError, StopDeployment, Succeeded
from tests.unit.reconcile_helpers import assignment, observation, spec, stats
from tests.unit.runtime_fakes import FakeES, FakeKube, deleting, operator_for, resource, until

AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
REFUSED = es.ConnectionFailedError("connection refused")
URL = "https://es-a:9200"


def _body(generation: int = 1, **overrides: Any) -> dict[str, Any]:
    return {"metadata": {"uid": "u", "generation": generation}, "spec": spec(**overrides)}


def _failed(action: str = "update", generation: int = 1) -> Failed:
    return Failed(ActionFailure(action, es.ServerError("boom", status=500), AT, 1, generation))


def _draws(*values: float) -> Iterator[float]:
    return iter(values)


def test_failures_of_one_action_are_counted_and_each_draws_a_fresh_jitter() -> None:
    entry, ok = Entry("u", _body()), Observed(observation(stats()))
    draws = _draws(0.1, 0.2, 0.3)
    counted = [remember(entry, ok, _failed(), draw=lambda: next(draws)) for _ in range(3)]
    assert [o.failure.attempts for o in counted if isinstance(o, Failed)] == [1, 2, 3]
    assert entry.failure is not None and entry.failure.attempts == 3 and entry.jitter == 0.3


def test_another_action_starts_counting_again_and_a_success_forgets_the_failure() -> None:
    entry, ok = Entry("u", _body()), Observed(observation(stats()))
    remember(entry, ok, _failed("update"), draw=lambda: 0.4)
    stop = remember(entry, ok, _failed("stop"), draw=lambda: 0.6)
    assert isinstance(stop, Failed) and stop.failure.attempts == 1
    answer = assignment(2, {})
    assert remember(entry, ok, Succeeded(StopDeployment("d"), answer), decided=3) == Succeeded(
        StopDeployment("d"), answer
    )
    assert (entry.failure, entry.last_assignment, entry.passed_generation, entry.jitter) == (None, answer, 3, 0.6)


def test_failed_polls_are_counted_until_one_succeeds() -> None:
    entry = Entry("u", _body())
    down, up = Observed(observation(snapshot=None, fetch_error=REFUSED)), Observed(observation(stats()))
    draws = _draws(0.7, 0.8)
    for _ in range(2):
        remember(entry, down, None, draw=lambda: next(draws))
    assert (entry.failed_polls, entry.jitter) == (2, 0.8)
    remember(entry, up, None, draw=lambda: pytest.fail("no failure, no draw"))
    assert (entry.failed_polls, entry.jitter) == (0, 0.8)


def test_the_connection_learned_is_remembered_and_a_changed_secret_forgets_the_failure() -> None:
    entry, config = Entry("u", _body()), ConnectionConfig(URL)
    remember(entry, Observed(observation(stats())), _failed())
    remember(entry, Observed(observation(stats()), connection=Connection(config, "fp-2", True)), None)
    assert (entry.cluster_key, entry.config, entry.secrets_fingerprint, entry.failure) == (
        config.key,
        config,
        "fp-2",
        None,
    )
    remember(entry, Observed(observation(snapshot=None), connection=Connection(None)), None)
    assert (entry.cluster_key, entry.config) == (None, config)  # kept for a deletion


def test_a_new_generation_forgets_an_older_generations_failure() -> None:
    entry = Entry("u", _body(), generation=1)
    remember(entry, Observed(observation(stats())), _failed(generation=1))
    delivered(entry, _body(1, numberOfAllocations=5))
    assert entry.failure is not None
    delivered(entry, _body(2, numberOfAllocations=5))
    assert (entry.generation, entry.failure) == (2, None)
    wrote(entry, {"observedGeneration": 2})
    assert entry.stored_status == {"observedGeneration": 2}


def test_the_spec_is_parsed_once_per_generation() -> None:
    entry = Entry("u", _body(1, numberOfAllocations=3))
    first = spec_of(entry)
    assert isinstance(first, ModelDeploymentSpec) and first.number_of_allocations == 3
    assert spec_of(entry) is first
    delivered(entry, {**entry.body, "status": {"allocations": 3}})  # a status change: same generation
    assert spec_of(entry) is first
    delivered(entry, _body(2, modelId="BAD ID"))
    invalid = spec_of(entry)
    assert isinstance(invalid, SpecError) and spec_of(entry) is invalid
    assert spec_of(entry, _body(1, numberOfAllocations=3)) == first  # an older version of the body, parsed anew


async def test_a_blocked_deletion_counts_its_stops_and_redraws_the_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter(i / 100 for i in range(1, 100))
    monkeypatch.setattr(memory, "random", SimpleNamespace(random=lambda: next(draws)))
    es_, kube = FakeES(), FakeKube()
    es_.refuse = True
    op = operator_for({URL: es_}, kube)
    body = resource("ner", URL, deletionPolicy="Stop")
    op.runtime.observe("ADDED", deleting(body))
    entry = op.runtime.registry.get("uid-ner")
    assert entry is not None
    seen: dict[int, float] = {}

    def attempts() -> int:
        failure = entry.failure
        if failure is not None:
            seen.setdefault(failure.attempts, entry.jitter)
        return failure.attempts if failure is not None else 0

    await until(lambda: attempts() >= 3, within=15, what="three failed stops")
    assert entry.failure is not None and entry.failure.action == "stop"
    assert len({seen[1], seen[2], seen[3]}) == 3 and 0.5 not in seen.values(), seen
    await op.close()


def test_an_outcome_without_a_failure_draws_nothing() -> None:
    entry = Entry("u", _body())
    remember(entry, Observed(observation(stats())), None, draw=lambda: pytest.fail("drawn"))
    assert (entry.jitter, entry.failure, entry.failed_polls) == (0.5, None, 0)
