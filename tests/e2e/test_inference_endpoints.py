"""Deployments that an inference endpoint created (ELSER through ``PUT _inference``), managed by a ModelDeployment.

Real operator process, real simulator process, kubectl. On an emulated 9.2
cluster the trained-model ``_update`` of such a deployment answers 409, so the
operator changes it through the endpoint's ``_update``; on 9.1 the
trained-model ``_update`` still works and is used. Either way Elasticsearch's
request log must show no 409 at all, and the operator must never start, stop
or delete what the endpoint owns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.e2e.conftest import Kube, model_deployment, ready
from tests.e2e.test_lifecycle import RESYNC, STATS_POLL, es_deployment, wait_polls
from tests.support.operator import OperatorProcess
from tests.support.simulator import DEMO_MODEL, SimulatorProcess

ELSER = ".elser_model_2_linux-x86_64"
ENDPOINT = "my-elser"
UPDATE_PATH = f"/_inference/sparse_embedding/{ENDPOINT}/_update"
OPERATOR_AGENT = "esml-operator"


@pytest.fixture
def simulator(request: pytest.FixtureRequest, simulator_factory: Callable[..., SimulatorProcess]) -> SimulatorProcess:
    """The simulator emulating ``request.param`` (indirect parametrization); the default (9.2) otherwise."""
    return simulator_factory(es_version=getattr(request, "param", None))


def put_endpoint(simulator: SimulatorProcess, inference_id: str = ENDPOINT, allocations: int = 1) -> None:
    """What a user does to set up ELSER for semantic_text: an endpoint that deploys the model itself."""
    response = simulator.es(
        "PUT",
        f"/_inference/sparse_embedding/{inference_id}",
        {
            "service": "elasticsearch",
            "service_settings": {"model_id": ELSER, "num_threads": 1, "num_allocations": allocations},
        },
    )
    assert response.status_code == 200, response.text


def elser_deployment(name: str, url: str, allocations: int, **spec: Any) -> dict[str, Any]:
    return model_deployment(name, url, model=ELSER, allocations=allocations, deploymentId=ENDPOINT, **spec)


def by_operator(request: dict[str, Any]) -> bool:
    headers = {key.lower(): value for key, value in request["headers"].items()}
    return str(headers.get("user-agent", "")).startswith(OPERATOR_AGENT)


def conflicts(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return [r for r in simulator.requests() if r["status"] == 409]


def inference_updates(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return [r for r in simulator.requests(UPDATE_PATH, method="PUT") if by_operator(r)]


def model_updates(simulator: SimulatorProcess) -> list[dict[str, Any]]:
    return [r for r in simulator.requests("/deployment/_update", method="POST") if by_operator(r)]


def adaptive_in_es(simulator: SimulatorProcess) -> dict[str, Any]:
    return dict(es_deployment(simulator, ENDPOINT).get("adaptive_allocations") or {})


def patch(kube: Kube, name: str, spec: dict[str, Any]) -> None:
    kube.kubectl("patch", "mdep", name, "--type=merge", "-p", json.dumps({"spec": spec}))


@pytest.mark.parametrize("simulator", [None, "9.1.0"], ids=["9.2", "9.1"], indirect=True)
def test_an_elser_endpoints_deployment_is_managed_without_a_single_409(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    version = simulator.es("GET", "/").json()["version"]["number"]
    through_endpoint = version == "9.2.0"  # before 9.2 the trained-model _update works and is kept
    put_endpoint(simulator)
    kube.apply(elser_deployment("elser", es_url, 1))
    status = wait_for(lambda: converged(kube.mdep("elser"), 1), what="Ready with 1 allocation")
    assert status["inferenceEndpoint"] == {"id": ENDPOINT, "taskType": "sparse_embedding", "service": "elasticsearch"}
    ready_message = kube.condition("elser", "Ready")["message"]  # type: ignore[index]
    assert f"of inference endpoint [{ENDPOINT}]" in ready_message
    wide = kube.kubectl("get", "mdep", "elser", "-o", "wide").stdout
    assert "ENDPOINT" in wide.splitlines()[0] and ENDPOINT in wide.splitlines()[1]

    # kubectl scale up and down: Elasticsearch reaches the count.
    for count in (3, 2):
        kube.kubectl("scale", "mdep/elser", f"--replicas={count}")
        wait_for(lambda c=count: converged(kube.mdep("elser"), c), what=f"{count} allocations")  # type: ignore[misc]
        assert es_deployment(simulator, ENDPOINT)["number_of_allocations"] == count
    if through_endpoint:
        assert [r["body"] for r in inference_updates(simulator)] == [
            {"service_settings": {"num_allocations": 3}},
            {"service_settings": {"num_allocations": 2}},
        ]
        # The endpoint's stored configuration follows (GET shows the live count either way).
        listed = simulator.es("GET", f"/_inference/sparse_embedding/{ENDPOINT}").json()["endpoints"][0]
        assert listed["service_settings"]["num_allocations"] == 2
    else:
        assert [r["body"] for r in model_updates(simulator)] == [
            {"number_of_allocations": 3},
            {"number_of_allocations": 2},
        ]

    # Adaptive allocations on, then off again.
    patch(
        kube,
        "elser",
        {"adaptiveAllocations": {"enabled": True, "minNumberOfAllocations": 1, "maxNumberOfAllocations": 4}},
    )
    wait_for(
        lambda: (
            adaptive_in_es(simulator)
            == {"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 4}
            and ready(kube, "elser")
        ),
        what="adaptive allocations enabled in Elasticsearch",
    )
    patch(kube, "elser", {"adaptiveAllocations": {"enabled": False}, "numberOfAllocations": 2})
    wait_for(
        lambda: not adaptive_in_es(simulator).get("enabled") and converged(kube.mdep("elser"), 2),
        what="adaptive allocations off, 2 allocations",
    )

    # Drift made through the inference API behind the operator's back is corrected.
    drift = simulator.es("PUT", UPDATE_PATH, {"service_settings": {"num_allocations": 4}})
    assert drift.status_code == 200, drift.text
    wait_for(lambda: es_deployment(simulator, ENDPOINT)["number_of_allocations"] == 2, what="the drift corrected")
    wait_for(lambda: converged(kube.mdep("elser"), 2), what="Ready with 2 again")

    sent = inference_updates(simulator) if through_endpoint else model_updates(simulator)
    assert len(sent) == 5  # 3, 2, adaptive on, adaptive off, the correction: one call per change
    assert not (model_updates(simulator) if through_endpoint else inference_updates(simulator))
    events = [e["message"] for e in kube.events("elser") if e["reason"] == "DeploymentUpdated"]
    assert events and all(("through inference endpoint" in m) == through_endpoint for m in events)

    # deletionPolicy Retain (the default): the endpoint and its deployment stay.
    kube.kubectl("delete", "mdep", "elser", "--timeout=40s")
    # deletionPolicy Stop: the operator never stops an endpoint's deployment, and the deletion completes.
    kube.apply(elser_deployment("elser-stop", es_url, 2, deletionPolicy="Stop"))
    wait_for(lambda: converged(kube.mdep("elser-stop"), 2), what="the second resource Ready")
    kube.kubectl("delete", "mdep", "elser-stop", "--timeout=40s")
    assert kube.get("modeldeployment", "elser-stop") is None
    skipped = [e for e in kube.events("elser-stop") if e["reason"] == "StopSkippedForInferenceEndpoint"]
    assert skipped and f"created by inference endpoint [{ENDPOINT}]" in skipped[0]["message"]
    assert es_deployment(simulator, ENDPOINT)["number_of_allocations"] == 2
    assert simulator.es("GET", f"/_inference/sparse_embedding/{ENDPOINT}").status_code == 200

    assert not [r for r in simulator.requests() if by_operator(r) and r["path"].endswith(("/_start", "/_stop"))]
    assert not [r for r in simulator.requests("/_inference") if by_operator(r) and r["method"] == "DELETE"]
    assert conflicts(simulator) == []


def test_endpoint_owned_and_ordinary_deployments_share_one_poll_per_resync(
    kube: Kube, simulator: SimulatorProcess, es_url: str, es_secrets: dict[str, str], operator: OperatorProcess
) -> None:
    put_endpoint(simulator)
    kube.apply(elser_deployment("elser", es_url, 2))
    for name in ("ner-a", "ner-b"):
        kube.apply(model_deployment(name, es_url, model=DEMO_MODEL, allocations=1, deploymentId=name))
    names = ("elser", "ner-a", "ner-b")
    wait_for(lambda: all(converged(kube.mdep(n), 2 if n == "elser" else 1) for n in names), what="all three Ready")
    for name in ("ner-a", "ner-b"):
        assert "inferenceEndpoint" not in kube.mdep(name)["status"]

    # Steady state: one _stats poll per resync interval for the whole cluster; the endpoint list is fetched
    # again only when the set of deployments changes (or every 5 minutes), so not at all here.
    stats_before = len(simulator.requests(STATS_POLL, method="GET"))
    listings_before = len(simulator.requests("/_inference/_all", method="GET"))
    started = time.monotonic()
    time.sleep(5 * RESYNC)  # measuring a rate needs elapsed time
    intervals = (time.monotonic() - started) / RESYNC
    polls = len(simulator.requests(STATS_POLL, method="GET")) - stats_before
    listings = len(simulator.requests("/_inference/_all", method="GET")) - listings_before
    assert intervals - 2 <= polls <= intervals + 2, (polls, intervals)
    assert listings <= 1, (listings, polls)  # (one may be in flight from before)

    # Changes to both kinds in one namespace: each takes its own path.
    kube.kubectl("scale", "mdep/elser", "--replicas=3")
    kube.kubectl("scale", "mdep/ner-a", "--replicas=2")
    wait_for(lambda: converged(kube.mdep("elser"), 3) and converged(kube.mdep("ner-a"), 2), what="both scaled")
    assert [r["body"]["service_settings"] for r in inference_updates(simulator)] == [
        {"num_allocations": 2},  # the endpoint was created with 1
        {"num_allocations": 3},
    ]
    assert [(r["path"], r["body"]) for r in model_updates(simulator)] == [
        ("/_ml/trained_models/ner-a/deployment/_update", {"number_of_allocations": 2})
    ]

    # What an endpoint's deployment cannot take is refused with a condition, and nothing is sent.
    wait_polls(simulator, 1)
    sent_before = len(simulator.requests())
    patch(kube, "elser", {"numberOfAllocations": 0})

    def refused() -> dict[str, Any] | None:
        cond = kube.condition("elser", "Stalled")
        return cond if cond and cond["status"] == "True" and cond["reason"] == "EndpointCannotScaleToZero" else None

    stalled = wait_for(refused, what="Stalled EndpointCannotScaleToZero")
    assert "minNumberOfAllocations: 0" in stalled["message"]
    wait_polls(simulator, 2)
    writes = [r for r in simulator.requests()[sent_before:] if r["method"] in ("POST", "PUT", "DELETE")]
    assert writes == []
    assert es_deployment(simulator, ENDPOINT)["number_of_allocations"] == 3
    assert conflicts(simulator) == []


def test_after_an_upgrade_to_92_a_stale_endpoint_count_does_not_stop_a_scale(
    kube: Kube, tmp_path: Path, operator: OperatorProcess
) -> None:
    """On 9.1 the trained-model _update moves the deployment and leaves the endpoint's stored count behind; on 9.2
    an endpoint _update to that stored count is skipped (200, nothing changes). The operator notices on the next
    poll, goes through another count once, and gets there, still without a 409."""
    workdir, state = tmp_path / "es", tmp_path / "es-state.json"
    old = SimulatorProcess(workdir, es_version="9.1.0", extra=("--state-file", str(state)))
    new: SimulatorProcess | None = None
    try:
        key = old.create_api_key()
        kube.secret("es-credentials", {"api_key": key})
        kube.secret("es-ca", {"ca.crt": old.ca_pem})
        put_endpoint(old)  # stored num_allocations: 1
        kube.apply(elser_deployment("elser", old.url.replace("127.0.0.1", "localhost"), 3))
        wait_for(lambda: converged(kube.mdep("elser"), 3), what="3 allocations on 9.1")
        assert [r["body"] for r in model_updates(old)] == [{"number_of_allocations": 3}]
        old.stop()  # the state (deployment, endpoint, API key) is saved: the "upgrade"
        new = SimulatorProcess(workdir, es_version="9.2.0", extra=("--state-file", str(state)))
        assert es_deployment(new, ENDPOINT)["number_of_allocations"] == 3
        patch(kube, "elser", {"elasticsearch": {"url": new.url.replace("127.0.0.1", "localhost")}})
        wait_for(lambda: kube.mdep("elser")["status"].get("elasticsearchVersion") == "9.2.0", what="9.2 seen")

        kube.kubectl("scale", "mdep/elser", "--replicas=1")
        wait_for(lambda: converged(kube.mdep("elser"), 1), what="1 allocation on 9.2")
        sent = [r["body"]["service_settings"] for r in inference_updates(new)]
        assert sent == [{"num_allocations": 1}, {"num_allocations": 2}, {"num_allocations": 1}], sent
        assert es_deployment(new, ENDPOINT)["number_of_allocations"] == 1
        assert not model_updates(new) and conflicts(new) == []
    finally:
        for sim in (old, new):
            if sim is not None and sim.process.alive():
                sim.stop()
