"""Inference endpoints in the admin API, the request log, faults, privileges and the state file."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp

from esml_simulator import Simulator

from .conftest import MODEL, Http, SimFactory

ELSER = ".elser_model_2_linux-x86_64"
PUT = "/_inference/sparse_embedding/my-elser"
OWNED = {"service": "elasticsearch", "service_settings": {"model_id": ELSER, "num_threads": 1, "num_allocations": 1}}


async def test_admin_creates_lists_and_removes_endpoints(sim: Simulator, http: Http) -> None:
    start = f"/_ml/trained_models/{MODEL}/deployment/_start"
    assert (await http("POST", start, params={"deployment_id": "adopted", "number_of_allocations": "2"})).status == 200
    made = await http("PUT", "/_sim/inference_endpoints/adopted", {"task_type": "text_embedding"}, auth=None)
    assert made.body["endpoint"]["service_settings"] == {"num_allocations": 2, "num_threads": 1, "model_id": MODEL}
    sim.control.add_inference_endpoint("user", "adopted")
    listed = await http("GET", "/_sim/inference_endpoints", auth=None)
    mine = {e["endpoint"]["inference_id"]: e for e in listed.body["inference_endpoints"] if e["stored"]}
    assert (mine["adopted"]["owns_deployment"], mine["adopted"]["deployment_exists"]) == (True, True)
    assert (mine["user"]["owns_deployment"], mine["user"]["deployment_id"]) == (False, "adopted")
    assert {e["endpoint"]["inference_id"] for e in listed.body["inference_endpoints"] if e["default"]} == {
        ".elser-2-elasticsearch",
        ".multilingual-e5-small-elasticsearch",
        ".rerank-v1-elasticsearch",
    }
    r = await http("POST", "/_ml/trained_models/adopted/deployment/_update", {"number_of_allocations": 1})
    assert r.status == 409
    assert (await http("DELETE", "/_sim/inference_endpoints/adopted", auth=None)).status == 200
    assert (
        await http("POST", "/_ml/trained_models/adopted/deployment/_update", {"number_of_allocations": 1})
    ).status == 200
    bad = await http("PUT", "/_sim/inference_endpoints/x", {"created_deployment": True}, auth=None)
    assert bad.status == 400


async def test_request_log_records_inference_calls_with_their_status(sim: Simulator, http: Http) -> None:
    assert (await http("PUT", PUT, OWNED)).status == 200
    await http("POST", "/_ml/trained_models/my-elser/deployment/_update", {"number_of_allocations": 2})
    await http("PUT", f"{PUT}/_update", {"service_settings": {"num_allocations": 2}})
    log = (await http("GET", "/_sim/requests", auth=None)).body["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("PUT", PUT, 200),
        ("POST", "/_ml/trained_models/my-elser/deployment/_update", 409),
        ("PUT", f"{PUT}/_update", 200),
    ]
    assert log[2]["body"] == {"service_settings": {"num_allocations": 2}}


async def test_faults_apply_to_each_inference_api(sim: Simulator, http: Http) -> None:
    sim.control.add_fault("update_inference", "status", status=503, count=1)
    sim.control.add_fault("get_inference", "status", status=429, retry_after=3, count=1)
    assert (await http("PUT", PUT, OWNED)).status == 200  # put_inference is not faulted
    assert (await http("PUT", f"{PUT}/_update", {"service_settings": {"num_allocations": 2}})).status == 503
    got = await http("GET", "/_inference/my-elser")
    assert (got.status, got.headers["Retry-After"]) == (429, "3")
    assert (await http("GET", "/_inference/my-elser")).status == 200


async def test_inference_privileges(make_sim: SimFactory, session: aiohttp.ClientSession) -> None:
    sim = await make_sim(users=[("infadmin", "pw", "inference_admin"), ("infuser", "pw", "inference_user")])
    http = Http(sim, session)

    def basic(user: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()

    assert (await http("PUT", PUT, OWNED, auth=basic("infadmin"))).status == 200
    update = {"service_settings": {"num_allocations": 2}}
    assert (await http("PUT", f"{PUT}/_update", update, auth=basic("infadmin"))).status == 200
    assert (await http("GET", "/_inference/my-elser", auth=basic("infuser"))).status == 200
    assert (await http("POST", "/_inference/my-elser", {"input": "hi"}, auth=basic("infuser"))).status == 200
    r = await http("DELETE", "/_inference/my-elser", auth=basic("infuser"))
    assert (r.status, r.error_type, r.reason) == (
        403,
        "security_exception",
        "action [cluster:admin/xpack/inference/delete] is unauthorized for user [infuser] with effective roles "
        "[inference_user], this action is granted by the cluster privileges [manage_inference,manage,all]",
    )
    created = await http("POST", "/_security/api_key", {"role_descriptors": {"ml": {"cluster": ["manage_ml"]}}})
    ml_only = "ApiKey " + created.body["encoded"]
    r = await http("GET", "/_inference", auth=ml_only)
    assert r.reason.endswith(
        "this action is granted by the cluster privileges [monitor_inference,manage_inference,monitor,manage,all]"
    )
    monitor = await http("POST", "/_security/api_key", {"role_descriptors": {"m": {"cluster": ["monitor"]}}})
    assert (await http("GET", "/_inference", auth="ApiKey " + monitor.body["encoded"])).status == 200
    assert (await http("DELETE", "/_inference/my-elser", auth=basic("infadmin"))).status == 200


async def test_endpoints_survive_a_restart_through_the_state_file(make_sim: SimFactory, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = await make_sim(state_file=str(path))
    async with aiohttp.ClientSession() as s:
        assert (await Http(first, s)("PUT", PUT, OWNED)).status == 200
    await first.stop()
    second = await make_sim(state_file=str(path))
    async with aiohttp.ClientSession() as s:
        http = Http(second, s)
        got = await http("GET", "/_inference/my-elser")
        assert got.body["endpoints"][0]["service_settings"]["model_id"] == ELSER
        r = await http("POST", "/_ml/trained_models/my-elser/deployment/_update", {"number_of_allocations": 2})
        assert r.status == 409  # still owned after the restart
