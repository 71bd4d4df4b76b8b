"""Inference endpoint requests that Elasticsearch refuses: statuses, error types and reasons, in check order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from esml_simulator import FakeClock, Simulator
from harness.polling import wait_for_async

from .conftest import MODEL, Http, SimFactory, settle

ELSER = ".elser_model_2_linux-x86_64"
PUT = "/_inference/sparse_embedding/my-elser"
UPDATE = f"{PUT}/_update"
SETTINGS = {"model_id": ELSER, "num_threads": 1, "num_allocations": 1}
OWNED = {"service": "elasticsearch", "service_settings": SETTINGS}


def owned(**settings: Any) -> dict[str, Any]:
    merged = {**SETTINGS, **settings}
    return {"service": "elasticsearch", "service_settings": {k: v for k, v in merged.items() if v is not None}}


@pytest.mark.parametrize(
    ("path", "body", "status", "error_type", "reason"),
    [
        (
            "/_inference/sparse_embedding/.elser-2-elasticsearch",
            OWNED,
            400,
            "status_exception",
            "[.elser-2-elasticsearch] is a reserved inference ID. Cannot create a new inference endpoint with a "
            "reserved ID.",
        ),
        (
            "/_inference/sparse_embedding/My_Elser",
            OWNED,
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: Invalid inference_id; 'My_Elser' can contain lowercase alphanumeric (a-z and 0-9), "
            "hyphens or underscores; must start and end with alphanumeric;",
        ),
        ("/_inference/my-elser", OWNED, 400, "status_exception", "model is missing required setting [task_type]"),
        (
            "/_inference/sparse_embedding/my-elser",
            {**OWNED, "task_type": "text_embedding"},
            400,
            "status_exception",
            "Cannot resolve conflicting task_type parameter in the request URL [sparse_embedding] and the request "
            "body [text_embedding]",
        ),
        ("/_inference/sparsest/my-elser", OWNED, 400, "status_exception", "Unknown task_type [sparsest]"),
        (
            PUT,
            {"service_settings": SETTINGS},
            400,
            "status_exception",
            "Inference endpoint configuration is missing the [service] setting",
        ),
        (PUT, {**OWNED, "service": "openai2"}, 400, "status_exception", "Unknown service [openai2]"),
        (
            "/_inference/completion/my-elser",
            OWNED,
            400,
            "status_exception",
            "The [elasticsearch] service does not support task type [completion]",
        ),
        (PUT, {"service": "elasticsearch"}, 400, "status_exception", "Missing required field [service_settings]"),
        (
            PUT,
            owned(model_id=None),
            400,
            "illegal_argument_exception",
            "Error parsing service settings, model_id must be provided",
        ),
        (
            PUT,
            owned(num_threads=None, num_allocations=0),
            400,
            "validation_exception",
            "Validation Failed: 1: [service_settings] Invalid value [0]. [num_allocations] must be a positive integer;"
            "2: [service_settings] does not contain the required setting [num_threads];"
            "3: [service_settings] does not contain one of the required settings [num_allocations, "
            "adaptive_allocations];",
        ),
        (
            PUT,
            owned(adaptive_allocations={"enabled": True, "max": 3}),
            400,
            "validation_exception",
            "Validation Failed: 1: [adaptive_allocations] does not allow the setting [max];",
        ),
        (
            PUT,
            owned(priority="low"),
            400,
            "status_exception",
            "Configuration contains settings [{priority=low}] unknown to the [elasticsearch] service",
        ),
        (
            PUT,
            owned(model_id="not-uploaded"),
            400,
            "illegal_argument_exception",
            "Error parsing request config, model id does not match any models available on this platform. Was "
            "[not-uploaded]. You may need to load it into the cluster using eland.",
        ),
        (
            PUT,
            owned(model_id=MODEL),
            400,
            "status_exception",
            f"Deployed model [{MODEL}] with type [ner] does not match the requested task type [sparse_embedding]",
        ),
        (
            PUT,
            {"service": "elasticsearch", "service_settings": {"deployment_id": "missing"}},
            404,
            "status_exception",
            "Cannot find deployment [missing]",
        ),
    ],
)
async def test_put_refusals(http: Http, path: str, body: Any, status: int, error_type: str, reason: str) -> None:
    r = await http("PUT", path, body)
    assert (r.status, r.error_type, r.reason) == (status, error_type, reason)
    assert (await http("GET", "/_inference/my-elser")).status == 404


async def test_put_without_body_is_a_parse_exception(http: Http) -> None:
    r = await http("PUT", PUT)
    assert (r.status, r.error_type, r.reason) == (400, "parse_exception", "request body is required")


async def test_ids_must_not_collide_with_deployments_or_stored_endpoints(sim: Simulator, http: Http) -> None:
    start = f"/_ml/trained_models/{MODEL}/deployment/_start"
    assert (await http("POST", start, params={"deployment_id": "taken"})).status == 200
    for inference_id in ("taken", MODEL):  # a deployment id, or the model of a deployment
        r = await http("PUT", f"/_inference/sparse_embedding/{inference_id}", OWNED)
        assert (r.status, r.error_type) == (400, "status_exception")
        assert r.reason == (
            f"Inference endpoint IDs must be unique. Requested inference endpoint ID [{inference_id}] matches "
            "existing trained model ID(s) but must not."
        )
    assert (await http("PUT", PUT, OWNED)).status == 200
    again = await http("PUT", PUT, OWNED)  # its own deployment now holds the id
    assert again.reason.startswith("Inference endpoint IDs must be unique.")
    sim.control.add_model("sparse", 2048, task_type="sparse_embedding")
    assert (
        await http("POST", "/_ml/trained_models/sparse/deployment/_start", params={"deployment_id": "d"})
    ).status == 200
    attach = {"service": "elasticsearch", "service_settings": {"deployment_id": "d"}}
    assert (await http("PUT", "/_inference/sparse_embedding/attached", attach)).status == 200
    r = await http("PUT", "/_inference/sparse_embedding/attached", attach)
    assert (r.status, r.error_type, r.reason) == (
        400,
        "resource_already_exists_exception",
        "Inference endpoint [attached] already exists",
    )
    r = await http(
        "PUT",
        "/_inference/sparse_embedding/other",
        {"service": "elasticsearch", "service_settings": {"deployment_id": "d", "model_id": "x"}},
    )
    assert r.reason == "Deployment [d] uses model [sparse] which does not match the model [x] in the request."


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        (
            {"adaptive_allocations": {"enabled": True}},
            "Validation Failed: 1: [number_of_allocations] cannot be set if adaptive allocations is enabled;",
        ),
        (
            {"num_threads": 3},
            "Validation Failed: 1: [threads_per_allocation] must be a power of 2 less than or equal to 32;",
        ),
    ],
)
async def test_a_failed_start_leaves_the_endpoint_stored(http: Http, settings: dict[str, Any], reason: str) -> None:
    r = await http("PUT", PUT, owned(**settings))
    assert (r.status, r.error_type, r.reason) == (400, "action_request_validation_exception", reason)
    got = await http("GET", "/_inference/my-elser")  # issue 137127: no rollback
    assert got.status == 200
    assert "num_allocations" in got.body["endpoints"][0]["service_settings"]  # the stored value: no deployment
    assert (await http("GET", "/_ml/trained_models/my-elser/_stats")).status == 404
    again = await http("PUT", PUT, owned())
    assert (again.status, again.error_type) == (400, "resource_already_exists_exception")


async def test_capacity_429_leaves_the_endpoint_stored(http: Http) -> None:
    r = await http("PUT", PUT, owned(num_allocations=64))
    assert (r.status, r.error_type) == (429, "status_exception")
    assert (await http("GET", "/_inference/my-elser")).status == 200


async def test_license_without_ml_is_403(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(license="basic")
    r = await Http(sim, session)("PUT", PUT, OWNED)  # type: ignore[arg-type]
    assert (r.status, r.error_type, r.reason) == (
        403,
        "security_exception",
        "current license is non-compliant for [inference]",
    )


async def test_put_waits_for_the_deployment_and_times_out_with_408(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(allocation_delay=10.0)
    http = Http(sim, session)  # type: ignore[arg-type]
    pending = asyncio.create_task(http("PUT", PUT, OWNED))
    await settle(sim, 5.0)  # halfway: the PUT goes back to waiting for the node
    clock = sim.clock
    assert isinstance(clock, FakeClock)
    await wait_for_async(lambda: clock.pending or pending.done(), within=2.0, interval=0.005, what="the PUT waiting")
    assert clock.pending and not pending.done()
    await settle(sim, 5.0)
    assert (await pending).status == 200
    slow = asyncio.create_task(http("PUT", "/_inference/sparse_embedding/slow", OWNED, params={"timeout": "2s"}))
    await settle(sim, 2.0)
    r = await slow
    assert (r.status, r.error_type) == (408, "model_deployment_timeout_exception")
    stats = await http("GET", "/_ml/trained_models/slow/_stats")
    assert stats.body["trained_model_stats"][0]["deployment_stats"]["state"] == "starting"  # keeps starting
    assert (await http("GET", "/_inference/slow")).status == 200


@pytest.mark.parametrize(
    ("path", "body", "status", "error_type", "reason"),
    [
        (UPDATE, {}, 400, "status_exception", "Request body is empty"),
        (
            UPDATE,
            {"service_settings": {"num_allocations": 2}, "service": "elasticsearch"},
            400,
            "status_exception",
            "Request contained fields which cannot be updated, remove these fields and try again "
            "[{service=elasticsearch}]",
        ),
        (
            "/_inference/sparse_embedding/nope/_update",
            {"service_settings": {"num_allocations": 2}},
            404,
            "resource_not_found_exception",
            "The inference endpoint [nope] does not exist and cannot be updated",
        ),
        (
            "/_inference/text_embedding/my-elser/_update",
            {"service_settings": {"num_allocations": 2}},
            400,
            "status_exception",
            "Task type must match the task type of the existing endpoint",
        ),
        (
            UPDATE,
            {"service_settings": {"num_allocations": 2}, "task_type": "rerank"},
            400,
            "status_exception",
            "Cannot resolve conflicting task_type parameter in the request URL [sparse_embedding] and the request "
            "body [rerank]",
        ),
        (
            UPDATE,
            {"service_settings": {"num_threads": 2}},
            400,
            "validation_exception",
            "Validation Failed: 1: [num_threads] cannot be updated;",
        ),
        (
            UPDATE,
            {"service_settings": {"num_allocations": 0}},
            400,
            "validation_exception",
            "Validation Failed: 1: [service_settings] Invalid value [0]. [num_allocations] must be a positive integer;",
        ),
        (
            "/_inference/my-elser/_update",
            {"service_settings": {"num_allocations": 2}},
            400,
            "status_exception",
            "Inference ID must be provided in the path",
        ),
    ],
)
async def test_update_refusals(http: Http, path: str, body: Any, status: int, error_type: str, reason: str) -> None:
    assert (await http("PUT", PUT, OWNED)).status == 200
    r = await http("PUT", path, body)
    assert (r.status, r.error_type, r.reason) == (status, error_type, reason)


async def test_update_routes_only_put_and_needs_a_body(http: Http) -> None:
    r = await http("POST", UPDATE, {"service_settings": {"num_allocations": 2}})
    assert (r.status, r.body) == (
        405,
        {"error": f"Incorrect HTTP method for uri [{UPDATE}] and method [POST], allowed: [PUT]", "status": 405},
    )
    r = await http("PUT", UPDATE)
    assert (r.status, r.error_type) == (400, "parse_exception")
    r = await http("DELETE", "/_inference/_all")
    assert r.status == 405


async def test_newest_update_style_takes_exactly_one_setting(make_sim: SimFactory, session: object) -> None:
    sim = await make_sim(inference_update_style="newest")
    http = Http(sim, session)  # type: ignore[arg-type]
    assert (await http("PUT", PUT, OWNED)).status == 200
    both = {"service_settings": {"num_allocations": 2, "adaptive_allocations": {"enabled": False}}}
    r = await http("PUT", UPDATE, both)
    assert (r.status, r.reason) == (
        400,
        "Validation Failed: 1: [num_allocations] cannot be set if [adaptive_allocations] is set;",
    )
    r = await http("PUT", UPDATE, {"service_settings": {"queue_capacity": 5}})
    assert r.reason == (
        "Validation Failed: 1: [service_settings] does not contain one of the required settings "
        "[num_allocations, adaptive_allocations];"
    )
    adaptive = {"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 3}
    r = await http("PUT", UPDATE, {"service_settings": {"adaptive_allocations": adaptive}})
    assert r.body["service_settings"] == {"num_threads": 1, "model_id": ELSER, "adaptive_allocations": adaptive}
    r = await http("PUT", UPDATE, {"service_settings": {"num_allocations": 2}})
    assert r.body["service_settings"] == {"num_allocations": 2, "num_threads": 1, "model_id": ELSER}
    stats = await http("GET", "/_ml/trained_models/my-elser/_stats")
    dep = stats.body["trained_model_stats"][0]["deployment_stats"]
    assert (dep["number_of_allocations"], "adaptive_allocations" in dep) == (2, False)
    r = await http(
        "PUT",
        "/_inference/sparse_embedding/.elser-2-elasticsearch/_update",
        {"service_settings": {"num_allocations": 2}},
    )
    assert (r.status, r.reason) == (400, "Default endpoint [.elser-2-elasticsearch] cannot be updated")


async def test_merge_style_updates_a_default_endpoint_once_deployed(http: Http) -> None:
    path = "/_inference/sparse_embedding/.elser-2-elasticsearch"
    r = await http(
        "PUT", f"{path}/_update", {"service_settings": {"adaptive_allocations": {"max_number_of_allocations": 4}}}
    )
    assert (r.status, r.error_type) == (404, "resource_not_found_exception")  # no deployment before first use
    assert (await http("POST", path, {"input": "hello"})).status == 200
    r = await http(
        "PUT", f"{path}/_update", {"service_settings": {"adaptive_allocations": {"max_number_of_allocations": 4}}}
    )
    assert r.body["service_settings"]["adaptive_allocations"] == {
        "enabled": True,
        "min_number_of_allocations": 0,
        "max_number_of_allocations": 4,
    }


async def test_inference_call_errors(http: Http) -> None:
    assert (await http("PUT", PUT, OWNED)).status == 200
    r = await http("POST", "/_inference/text_embedding/my-elser", {"input": "x"})
    assert (r.status, r.reason) == (
        400,
        "Incompatible task_type, the requested type [text_embedding] does not match the model type [sparse_embedding]",
    )
    r = await http("POST", "/_inference/my-elser", {"input": []})
    assert (r.status, r.error_type) == (400, "action_request_validation_exception")
    assert (await http("POST", "/_ml/trained_models/my-elser/deployment/_stop", params={"force": "true"})).status == 200
    r = await http("POST", "/_inference/my-elser", {"input": "x"})
    assert (r.status, r.error_type) == (404, "resource_not_found_exception")  # only default endpoints redeploy
