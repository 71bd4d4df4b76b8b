"""Malformed Elasticsearch answers: truncated JSON, HTML pages, wrong types, missing fields.

Each case has a proxy of its own in front of the simulator, which breaks one
kind of answer. Every resource first converges through its proxy; then the
answers break, and each resource must get a clear condition (a reason and a
message for a person, never a traceback), the operator must not crash or
loop, and once the answers are whole again everything converges.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import RESYNC, Env, mdep, writes
from tests.faults.proxy import Reply, Rule, html_page, json_edit, truncated

STATS = "/_ml/trained_models/_all/_stats$"


def _deployments(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["deployment_stats"] for e in body.get("trained_model_stats", []) if "deployment_stats" in e]


def counts_as_strings(body: dict[str, Any]) -> dict[str, Any]:
    for stats in _deployments(body):
        stats["number_of_allocations"] = str(stats.get("number_of_allocations"))
        stats.get("allocation_status", {})["allocation_count"] = "three"
    return body


def without_stats(body: dict[str, Any]) -> dict[str, Any]:
    body.pop("trained_model_stats", None)
    return body


def stats_as_object(body: dict[str, Any]) -> dict[str, Any]:
    body["trained_model_stats"] = {"oops": body.get("trained_model_stats")}
    return body


def info_without_version(body: dict[str, Any]) -> dict[str, Any]:
    body.pop("version", None)
    return body


def empty(_: Reply | None) -> Reply:
    return Reply(200, b"", {"Content-Type": "application/json", "X-Elastic-Product": "Elasticsearch"})


def not_elasticsearch(_: Reply | None) -> Reply:
    return Reply(200, b"<html><body>Welcome to nginx!</body></html>", {"Content-Type": "text/html"})


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    answer: Callable[[Reply | None], Reply]
    reason: str  # the Ready condition's reason while the answers are broken
    words: str  # in the Ready message


CASES = [
    Case("truncated-json", "GET", STATS, truncated, "MalformedResponseError", "not JSON"),
    Case("empty-body", "GET", STATS, empty, "MalformedResponseError", "not JSON"),
    Case("html-200", "GET", STATS, html_page(200, product_header=True), "MalformedResponseError", "text/html"),
    Case("html-502", "GET", STATS, html_page(502), "ServerError", "502"),
    Case("wrong-types", "GET", STATS, json_edit(counts_as_strings), "MalformedResponseError", "Unexpected answer"),
    Case("missing-fields", "GET", STATS, json_edit(without_stats), "MalformedResponseError", "Unexpected answer"),
    Case("list-as-object", "GET", STATS, json_edit(stats_as_object), "MalformedResponseError", "Unexpected answer"),
    Case("info-no-version", "GET", "^/$", json_edit(info_without_version), "MalformedResponseError", "version"),
    Case("not-elasticsearch", "GET", "^/$", not_elasticsearch, "ProductCheckError", "not Elasticsearch"),
]


@pytest.mark.faults_smoke
def test_malformed_answers_give_clear_conditions_and_recovery(env: Env) -> None:
    sim = env.simulator(nodes=4, extra=("--processors", "8"))
    env.secrets(sim)
    proxies = {case.name: env.proxy(sim) for case in CASES}
    op = env.operator()
    # GET / is read once per cluster and remembered: its cases start broken. The others converge first.
    later = [case for case in CASES if case.path == "^/$"]
    for case in CASES:
        if case not in later:
            env.kube.apply(mdep(case.name, proxies[case.name].url, deploymentId=f"dep-{case.name}"))
    for case in CASES:
        if case not in later:
            wait_for(lambda n=case.name: converged(env.kube.mdep(n), 1), what=f"{case.name} Ready")  # type: ignore[misc]

    broken = time.time()
    for case in CASES:
        proxies[case.name].add_rule(Rule(case.method, case.path, answer=case.answer))
    for case in later:
        env.kube.apply(mdep(case.name, proxies[case.name].url, deploymentId=f"dep-{case.name}"))

    def ready(name: str) -> dict[str, Any] | None:
        obj = env.kube.mdep(name)
        return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == "Ready"), None)

    seen: dict[str, dict[str, Any]] = {}  # each case's first report: a later pass may move on

    def every_case_reported() -> bool:
        missing = {}
        for case in (c for c in CASES if c.name not in seen):
            found = ready(case.name)
            if found and found["status"] == "False" and found["reason"] == case.reason:
                seen[case.name] = found
            else:
                missing[case.name] = found
        assert not missing, f"not reported as expected: {json.dumps(missing, indent=1)}"
        return True

    wait_for(every_case_reported, timeout=60, interval=0.3, what="every case's Ready reason")
    for case in CASES:
        message = seen[case.name]["message"]
        assert case.words in message, (case.name, message)
        assert "Traceback" not in json.dumps(env.kube.mdep(case.name)["status"]), case.name
    window = time.time()
    time.sleep(3 * RESYNC)  # counting requests per window needs the window's time: nothing to wait for
    counts = {name: len(p.seen(since=window)) for name, p in proxies.items()}
    assert all(n <= 3 * 2 + 2 for n in counts.values()), f"requests in {3 * RESYNC:.0f}s per case: {counts}"
    assert op.process.alive(), op.process.log_tail()
    assert writes(sim, since=broken) == []  # a garbled answer never caused a change

    for proxy in proxies.values():
        proxy.clear_rules()
    for case in CASES:
        wait_for(lambda n=case.name: converged(env.kube.mdep(n), 1), timeout=60, what=f"{case.name} recovered")  # type: ignore[misc]
    env.record(
        scenario="malformed Elasticsearch answers",
        faults=len(CASES),
        resources=len(CASES),
        converged=len(CASES),
        requests_per_case=counts,
    )


def test_a_truncated_start_answer_is_not_a_reason_to_start_twice(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    proxy = env.proxy(sim)
    proxy.add_rule(Rule("POST", "/deployment/_start$", answer=truncated, count=1))  # Elasticsearch did start it
    env.operator()
    env.kube.apply(mdep("ner", proxy.url))
    wait_for(lambda: converged(env.kube.mdep("ner"), 1), what="Ready despite the garbled _start answer")
    starts = [r for r in writes(sim) if r["path"].endswith("/_start")]
    assert len(starts) == 1, starts
    env.record(scenario="truncated _start answer", faults=1, resources=1, converged=1)
