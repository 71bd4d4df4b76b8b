"""Runtime errors surface as conditions, never as a crash or a hot loop.

Each scenario drives the real operator into an error through Kubernetes
objects or the simulator's fault API, checks the condition (reason = the
Elasticsearch ``error.type`` or a configuration reason, a message for a
person), checks that the operator stays alive and polls at a bounded rate,
and then removes the cause and waits for recovery.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.polling import wait_for
from tests.e2e.conftest import Kube, model_deployment, ready, require_condition, stalled_with
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, ELASTIC_PASSWORD, SimulatorProcess

RESYNC = 2.0  # the operator fixture's resync interval
#: Requests one stalled resource may cause per resync interval: GET / (re-read after a refusal), the poll
#: (_stats and _inference/_all) and one retried call, with room for timing.
MAX_REQUESTS_PER_RESYNC = 6


def reachable(kube: Kube, name: str, status: str) -> dict[str, Any] | None:
    found = kube.condition(name, "ElasticsearchReachable")
    return found if found and found["status"] == status else None


def api_key(simulator: SimulatorProcess, *privileges: str) -> str:
    """An API key limited to exactly these cluster privileges (``role_descriptors``), as a user would make it."""
    response = simulator.es(
        "POST", "/_security/api_key", {"name": "esml", "role_descriptors": {"esml": {"cluster": list(privileges)}}}
    )
    response.raise_for_status()
    return str(response.json()["encoded"])


def assert_calm(simulator: SimulatorProcess, operator: OperatorProcess, *, intervals: int = 3) -> None:
    """Over a few resync intervals the operator stays alive and sends a bounded number of requests.

    This must observe that nothing much happens, so it is the one place with a fixed sleep.
    """
    before = len(simulator.requests())
    time.sleep(intervals * RESYNC)
    sent = len(simulator.requests()) - before
    assert operator.process.alive(), operator.process.log_tail()
    assert sent <= intervals * MAX_REQUESTS_PER_RESYNC, f"{sent} requests in {intervals * RESYNC:.0f}s: a hot loop"


# -- privileges -------------------------------------------------------------------------------


def test_key_with_only_monitor_ml_is_stalled_naming_the_missing_privilege(
    kube: Kube, simulator: SimulatorProcess, es_url: str, operator: OperatorProcess
) -> None:
    kube.secret("es-credentials", {"api_key": api_key(simulator, "monitor_ml")})
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    kube.apply(model_deployment("ner", es_url))
    stalled = wait_for(lambda: stalled_with(kube, "ner", "security_exception"), what="Stalled security_exception")
    # GET / (the cluster version) needs `monitor`: Elasticsearch's 403 names the privileges that grant it.
    assert "cluster:monitor/main" in stalled["message"]
    assert "[monitor,manage,all]" in stalled["message"]
    assert "need the cluster privileges manage_ml" in stalled["message"]  # what to grant, said plainly
    ready_cond = require_condition(kube, "ner", "Ready")
    assert (ready_cond["status"], ready_cond["reason"]) == ("False", "security_exception")
    status = kube.mdep("ner")["status"]
    assert status["observedGeneration"] == 1
    assert status["selector"] == "esml.io/model-deployment=ner"
    assert {c["type"] for c in status["conditions"]} == {"Ready", "Reconciling", "Stalled", "ElasticsearchReachable"}
    assert simulator.deployment(DEMO_MODEL) is None  # nothing was started
    assert_calm(simulator, operator)


def test_read_only_key_reports_the_deployment_and_names_manage_ml(
    kube: Kube, simulator: SimulatorProcess, es_url: str, operator: OperatorProcess
) -> None:
    """With `monitor` (cluster version and stats) but no `manage_ml`, the operator still reports what it sees."""
    started = simulator.es("POST", f"/_ml/trained_models/{DEMO_MODEL}/deployment/_start", number_of_allocations=1)
    assert started.status_code == 200, started.text
    kube.secret("es-credentials", {"api_key": api_key(simulator, "monitor")})
    simulator.admin("DELETE", "requests")  # from here on, only the operator's requests
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    kube.apply(model_deployment("ner", es_url, allocations=2))
    stalled = wait_for(lambda: stalled_with(kube, "ner", "security_exception"), what="Stalled security_exception")
    assert "cluster:admin/xpack/ml/trained_models/deployment/update" in stalled["message"]
    assert "manage_ml" in stalled["message"]
    status = kube.mdep("ner")["status"]
    assert status["allocations"] == 1  # observed through the stats API
    assert status["elasticsearchVersion"] == "9.2.0"
    assert require_condition(kube, "ner", "ElasticsearchReachable")["status"] == "True"
    assert not simulator.requests("/deployment/_start")
    assert_calm(simulator, operator)


def test_key_with_manage_ml_and_monitor_is_enough(
    kube: Kube, simulator: SimulatorProcess, es_url: str, operator: OperatorProcess
) -> None:
    kube.secret("es-credentials", {"api_key": api_key(simulator, "manage_ml", "monitor")})
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    kube.apply(model_deployment("ner", es_url))
    wait_for(lambda: ready(kube, "ner"), what="Ready with manage_ml + monitor")
    kube.kubectl("scale", "modeldeployment/ner", "--replicas=3")
    wait_for(lambda: kube.mdep("ner")["status"].get("allocations") == 3 and ready(kube, "ner"), what="scaled to 3")


# -- configuration errors -----------------------------------------------------------------------


def test_missing_secret_then_created_recovers(
    kube: Kube, simulator: SimulatorProcess, es_url: str, operator: OperatorProcess
) -> None:
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    kube.apply(model_deployment("ner", es_url))
    stalled = wait_for(lambda: stalled_with(kube, "ner", "SecretNotFound"), what="Stalled SecretNotFound")
    assert "es-credentials" in stalled["message"]
    assert require_condition(kube, "ner", "ElasticsearchReachable")["status"] == "Unknown"
    assert simulator.requests() == []
    assert_calm(simulator, operator, intervals=2)

    kube.secret("es-credentials", {"api_key": simulator.create_api_key()})
    # The Secret cache lives one resync interval; the next pass after that connects.
    wait_for(lambda: reachable(kube, "ner", "True"), timeout=3 * RESYNC + 5, what="reachable after the Secret")
    wait_for(lambda: ready(kube, "ner"), what="Ready after the Secret was created")


def test_secret_without_the_expected_keys(
    kube: Kube, simulator: SimulatorProcess, es_url: str, operator: OperatorProcess
) -> None:
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    kube.secret("es-credentials", {"user": "elastic"})  # neither api_key nor username + password
    kube.apply(model_deployment("ner", es_url))
    stalled = wait_for(lambda: stalled_with(kube, "ner", "SecretKeyMissing"), what="Stalled SecretKeyMissing")
    assert "'api_key'" in stalled["message"] and "'username' and 'password'" in stalled["message"]
    assert operator.process.alive()
    assert simulator.requests() == []


def test_wrong_password_then_fixed_recovers(
    kube: Kube, simulator: SimulatorProcess, es_url: str, operator: OperatorProcess
) -> None:
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    kube.secret("es-credentials", {"username": "elastic", "password": "not-the-password"})
    kube.apply(model_deployment("ner", es_url))
    stalled = wait_for(lambda: stalled_with(kube, "ner", "security_exception"), what="Stalled security_exception")
    assert "unable to authenticate user [elastic]" in stalled["message"]
    reachable_now = require_condition(kube, "ner", "ElasticsearchReachable")
    assert (reachable_now["status"], reachable_now["reason"]) == ("True", "Answered")
    assert_calm(simulator, operator)

    kube.secret("es-credentials", {"username": "elastic", "password": ELASTIC_PASSWORD})
    wait_for(lambda: ready(kube, "ner"), what="Ready after the password was fixed")


# -- Elasticsearch refusals and failures ----------------------------------------------------------


def test_capacity_429_is_stalled_until_scaled_down(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    # Two ML nodes with 4 processors each hold at most 8 single-thread allocations.
    kube.apply(model_deployment("ner", es_url, allocations=64))
    stalled = wait_for(lambda: stalled_with(kube, "ner", "status_exception"), what="Stalled status_exception")
    assert "not enough resources" in stalled["message"] or "sufficient capacity" in stalled["message"]
    # Ready says by how much (issue 22): 64 single-thread allocations on 8 processors.
    short = wait_for(lambda: _ready_with(kube, "ner", "InsufficientCapacity"), what="Ready InsufficientCapacity")
    assert "needs 64 processors (64 x 1 threads); ML nodes have 8" in short["message"], short
    assert "Add 56 processors, or lower numberOfAllocations to 8" in short["message"], short
    assert simulator.deployment(DEMO_MODEL) is None
    starts = len(simulator.requests("/deployment/_start", method="POST"))
    assert_calm(simulator, operator)
    # Retried with back-off, and Stalled never left True in between (issue 17: it flickered False/True).
    wait_for(
        lambda: len(simulator.requests("/deployment/_start", method="POST")) >= starts + 2,
        timeout=120,
        what="two more refused starts",
    )
    still = require_condition(kube, "ner", "Stalled")
    assert (still["status"], still["lastTransitionTime"]) == ("True", stalled["lastTransitionTime"]), still

    kube.kubectl("scale", "modeldeployment/ner", "--replicas=2")
    wait_for(lambda: ready(kube, "ner"), what="Ready after scaling down")
    assert kube.mdep("ner")["status"]["allocations"] == 2


def _ready_with(kube: Kube, name: str, reason: str) -> dict[str, Any] | None:
    found = kube.condition(name, "Ready")
    return found if found and found["reason"] == reason else None


def _fault_then_recover(
    kube: Kube, simulator: SimulatorProcess, operator: OperatorProcess, fault: dict[str, Any], reason: str | None
) -> None:
    wait_for(lambda: ready(kube, "ner"), what="Ready before the fault")
    simulator.admin("POST", "faults", fault)
    unreachable = wait_for(lambda: reachable(kube, "ner", "False"), what="ElasticsearchReachable False")
    if reason is not None:
        assert unreachable["reason"] == reason
    assert require_condition(kube, "ner", "Ready")["status"] == "False"
    assert_calm(simulator, operator, intervals=2)
    simulator.admin("DELETE", "faults")
    wait_for(lambda: ready(kube, "ner") and reachable(kube, "ner", "True"), what="recovered after the fault")


def test_stats_503_then_recovers(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url))
    fault = {"endpoint": "stats", "kind": "status", "status": 503}
    _fault_then_recover(kube, simulator, operator, fault, "unavailable_shards_exception")


def test_stats_connection_reset_then_recovers(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    kube.apply(model_deployment("ner", es_url))
    _fault_then_recover(kube, simulator, operator, {"endpoint": "stats", "kind": "reset"}, None)


def test_start_429_retry_after_is_honoured(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    retry_after = 4
    simulator.admin(
        "POST", "faults", {"endpoint": "start", "kind": "status", "status": 429, "retry_after": retry_after, "count": 1}
    )
    kube.apply(model_deployment("ner", es_url))
    wait_for(lambda: ready(kube, "ner"), what="Ready after the throttled start")
    starts = simulator.requests("/deployment/_start", method="POST")
    assert len(starts) == 2, starts
    waited = starts[1]["wall_time"] - starts[0]["wall_time"]
    assert waited >= retry_after, f"retried after {waited:.2f}s, before Retry-After ({retry_after}s)"
    assert waited < retry_after + 3 * RESYNC + 5, f"retried only after {waited:.2f}s"


def test_operator_survives_every_error_in_one_namespace(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    """Several broken resources side by side: each gets its condition, a healthy one still converges."""
    operator = operator_factory()
    kube.apply(model_deployment("missing-secret", es_url, credentials="nope", model="lang_ident_model_1"))
    kube.apply(model_deployment("ok", es_url))
    wait_for(lambda: stalled_with(kube, "missing-secret", "SecretNotFound"), what="SecretNotFound")
    wait_for(lambda: ready(kube, "ok"), what="the healthy resource Ready")
    assert operator.process.alive()
