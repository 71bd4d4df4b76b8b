"""Cluster privilege lists per user and per API key, enforced per API as Elasticsearch does."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import pytest
from elasticsearch import AsyncElasticsearch, AuthorizationException

from esml_simulator.cli import build_parser, config_from_args

from .conftest import MODEL, Http, SimFactory

START = f"/_ml/trained_models/{MODEL}/deployment/_start"
UPDATE = f"/_ml/trained_models/{MODEL}/deployment/_update"
STOP = f"/_ml/trained_models/{MODEL}/deployment/_stop"
STATS = "/_ml/trained_models/_all/_stats"
ELSER = ".elser_model_2_linux-x86_64"
ENDPOINT = {"service": "elasticsearch", "service_settings": {"model_id": ELSER, "num_threads": 1, "num_allocations": 1}}


def basic(user: str) -> str:
    """Every user here has the password ``pw``."""
    return "Basic " + base64.b64encode(f"{user}:pw".encode()).decode()


def denial(action: str, who: str, privileges: str) -> str:
    return (
        f"action [{action}] is unauthorized for {who}, this action is granted by the cluster privileges [{privileges}]"
    )


async def test_a_user_with_the_operators_least_privilege(make_sim: SimFactory, session: aiohttp.ClientSession) -> None:
    sim = await make_sim(users=[("op", "pw", "manage_ml,monitor")])
    http = Http(sim, session)
    auth = basic("op")
    for method, path, body in (
        ("GET", "/", None),
        ("GET", STATS, None),
        ("POST", START, None),
        ("POST", UPDATE, {"number_of_allocations": 2}),
        ("POST", STOP, None),
    ):
        r = await http(method, path, body, auth=auth)
        assert r.status == 200, (path, r.body)
    me = await http("GET", "/_security/_authenticate", auth=auth)
    assert me.body["roles"] == ["op"]  # a privilege list becomes a role named after the user
    r = await http("PUT", "/_inference/sparse_embedding/e", ENDPOINT, auth=auth)
    assert (r.status, r.error_type, r.reason) == (
        403,
        "security_exception",
        denial(
            "cluster:admin/xpack/inference/put", "user [op] with effective roles [op]", "manage_inference,manage,all"
        ),
    )


async def test_each_api_needs_its_own_privilege(make_sim: SimFactory, session: aiohttp.ClientSession) -> None:
    sim = await make_sim(
        users=[("ml", "pw", "monitor_ml"), ("inf", "pw", "manage_inference"), ("mon", "pw", "monitor")]
    )
    http = Http(sim, session)
    r = await http("GET", "/", auth=basic("ml"))
    # monitor_ml names the built-in role (machine_learning_user) rather than a one-privilege list
    who = "user [ml] with effective roles [machine_learning_user]"
    assert r.reason == denial("cluster:monitor/main", who, "monitor,manage,all")
    assert (await http("GET", STATS, auth=basic("ml"))).status == 200
    assert (await http("GET", STATS, auth=basic("mon"))).status == 200
    assert (await http("POST", START, auth=basic("mon"))).status == 403
    # manage_inference grants the trained-model start and stop, but not update
    assert (await http("POST", START, auth=basic("inf"))).status == 200
    r = await http("POST", UPDATE, {"number_of_allocations": 2}, auth=basic("inf"))
    assert r.reason == denial(
        "cluster:admin/xpack/ml/trained_models/deployment/update",
        "user [inf] with effective roles [inf]",
        "manage_ml,manage,all",
    )
    assert (await http("POST", STOP, auth=basic("inf"))).status == 200
    assert (await http("GET", "/_inference", auth=basic("mon"))).status == 200
    assert (await http("PUT", "/_inference/sparse_embedding/e", ENDPOINT, auth=basic("inf"))).status == 200


async def test_action_patterns_grant_matching_actions(make_sim: SimFactory, session: aiohttp.ClientSession) -> None:
    sim = await make_sim(api_keys=[("reader", "s3cret", "cluster:monitor/xpack/ml/*")])
    http = Http(sim, session)
    auth = "ApiKey " + base64.b64encode(b"reader:s3cret").decode()
    assert (await http("GET", STATS, auth=auth)).status == 200
    r = await http("POST", START, auth=auth)
    assert r.reason == denial(
        "cluster:admin/xpack/ml/trained_models/deployment/start",
        "API key id [reader] of user [elastic]",
        "manage_inference,manage_ml,manage,all",
    )


async def test_api_keys_through_the_official_client(make_sim: SimFactory) -> None:
    sim = await make_sim()
    async with AsyncElasticsearch(sim.url, basic_auth=("elastic", "changeme")) as es:
        key = await es.security.create_api_key(
            name="esml-operator", role_descriptors={"esml-operator": {"cluster": ["manage_ml", "monitor"]}}
        )
        with pytest.raises(Exception) as bad:
            await es.security.create_api_key(name="x", role_descriptors={"r": {"cluster": ["manage_everything"]}})
    assert bad.value.meta.status == 400  # type: ignore[attr-defined]
    assert str(bad.value.body["error"]["reason"]).startswith("unknown cluster privilege [manage_everything]")  # type: ignore[attr-defined]
    async with AsyncElasticsearch(sim.url, api_key=key["encoded"]) as operator:
        await operator.info()
        await operator.ml.start_trained_model_deployment(model_id=MODEL)
        await operator.ml.update_trained_model_deployment(model_id=MODEL, number_of_allocations=2)
        with pytest.raises(AuthorizationException) as err:
            await operator.inference.put(inference_id="e", task_type="sparse_embedding", inference_config=ENDPOINT)
    assert err.value.body["error"]["reason"].endswith("[manage_inference,manage,all]")


async def test_admin_api_adds_users_and_keys_that_survive_a_restart(make_sim: SimFactory, tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    first = await make_sim(state_file=str(path))
    async with aiohttp.ClientSession() as s:
        http = Http(first, s)
        user = await http(
            "POST", "/_sim/users", {"username": "op", "password": "pw", "role": ["manage_ml", "monitor"]}, auth=None
        )
        assert user.body == {"user": {"username": "op", "roles": ["op"], "cluster": ["manage_ml", "monitor"]}}
        key = await http("POST", "/_sim/api_keys", {"id": "k", "key": "secret", "role": "inference_user"}, auth=None)
        assert key.body["api_key"]["cluster"] == ["monitor_inference"]
        bad = await http("POST", "/_sim/users", {"username": "x", "password": "pw", "role": "manage_world"}, auth=None)
        assert bad.status == 400
        assert "unknown cluster privilege [manage_world]" in bad.body["error"]
    await first.stop()
    second = await make_sim(state_file=str(path))
    async with aiohttp.ClientSession() as s:
        http = Http(second, s)
        assert (await http("POST", START, auth=basic("op"))).status == 200
        assert (await http("GET", "/", auth=basic("op"))).status == 200
        key_auth = "ApiKey " + str(key.body["api_key"]["encoded"])
        assert (await http("GET", "/_inference", auth=key_auth)).status == 200
        assert (await http("GET", STATS, auth=key_auth)).status == 403


def test_cli_roles_are_built_in_names_or_privilege_lists() -> None:
    args = build_parser().parse_args(["--user", "op:pw:manage_ml,monitor", "--api-key", "k:s:inference_admin"])
    config = config_from_args(args)
    assert config.users == [("op", "pw", "manage_ml,monitor")]
    assert config.api_keys == [("k", "s", "inference_admin")]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--user", "op:pw:manage_ml,monitr"])
