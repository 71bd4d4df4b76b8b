"""Conformance through the official ``elasticsearch`` client: if it refuses the simulator, the simulator is wrong."""

from __future__ import annotations

import pytest
from elasticsearch import (
    ApiError,
    AsyncElasticsearch,
    AuthenticationException,
    AuthorizationException,
    BadRequestError,
    ConflictError,
    NotFoundError,
)

from esml_simulator import Simulator

from .conftest import MODEL, SimFactory


async def test_info_is_accepted_by_the_client(es: AsyncElasticsearch) -> None:
    info = await es.info()
    assert info["version"]["number"] == "9.2.0"
    assert info.meta.headers["X-Elastic-Product"] == "Elasticsearch"
    assert info["tagline"] == "You Know, for Search"


async def test_start_update_stats_stop_round_trip(es: AsyncElasticsearch) -> None:
    started = await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=2)
    assignment = started["assignment"]
    assert assignment["assignment_state"] == "started"
    assert assignment["task_parameters"]["deployment_id"] == MODEL
    assert sum(r["target_allocations"] for r in assignment["routing_table"].values()) == 2

    updated = await es.ml.update_trained_model_deployment(model_id=MODEL, number_of_allocations=3)
    assert updated["assignment"]["task_parameters"]["number_of_allocations"] == 3

    stats = await es.ml.get_trained_models_stats(model_id=MODEL)
    assert stats["count"] == 1
    dstats = stats["trained_model_stats"][0]["deployment_stats"]
    assert dstats["allocation_status"]["target_allocation_count"] == 3

    stopped = await es.ml.stop_trained_model_deployment(model_id=MODEL)
    assert stopped.body == {"stopped": True}
    after = await es.ml.get_trained_models_stats(model_id=MODEL)
    assert "deployment_stats" not in after["trained_model_stats"][0]


async def test_update_with_adaptive_body(es: AsyncElasticsearch) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL)
    resp = await es.ml.update_trained_model_deployment(
        model_id=MODEL,
        adaptive_allocations={"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 4},
    )
    assert resp["assignment"]["adaptive_allocations"] == {
        "enabled": True,
        "min_number_of_allocations": 1,
        "max_number_of_allocations": 4,
    }


async def test_start_with_adaptive_body(es: AsyncElasticsearch) -> None:
    resp = await es.ml.start_trained_model_deployment(
        model_id=MODEL,
        deployment_id="adaptive",
        adaptive_allocations={"enabled": True, "min_number_of_allocations": 2, "max_number_of_allocations": 4},
    )
    assert resp["assignment"]["task_parameters"]["number_of_allocations"] == 2


async def test_missing_model_is_not_found_error(es: AsyncElasticsearch) -> None:
    with pytest.raises(NotFoundError) as err:
        await es.ml.start_trained_model_deployment(model_id="missing")
    assert err.value.meta.status == 404
    assert err.value.error == "resource_not_found_exception"
    assert err.value.body["error"]["reason"] == "No known trained model with model_id [missing]"


async def test_validation_is_bad_request_error(es: AsyncElasticsearch) -> None:
    with pytest.raises(BadRequestError) as err:
        await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=0)
    assert err.value.error == "action_request_validation_exception"


async def test_duplicate_deployment_is_bad_request_not_conflict(es: AsyncElasticsearch) -> None:
    await es.ml.start_trained_model_deployment(model_id=MODEL)
    with pytest.raises(BadRequestError) as err:
        await es.ml.start_trained_model_deployment(model_id=MODEL)
    assert err.value.error == "status_exception"


async def test_update_while_starting_is_conflict_error(make_sim: SimFactory) -> None:
    sim = await make_sim(allocation_delay=5.0)
    async with AsyncElasticsearch(sim.url, basic_auth=("elastic", "changeme")) as es:
        await es.ml.start_trained_model_deployment(model_id=MODEL, wait_for="starting")
        with pytest.raises(ConflictError) as err:
            await es.ml.update_trained_model_deployment(model_id=MODEL, number_of_allocations=2)
        assert err.value.error == "status_exception"
        assert err.value.body["error"]["reason"] == "cannot update deployment that is not in [started] state"


async def test_capacity_429_is_api_error_with_status(es: AsyncElasticsearch) -> None:
    with pytest.raises(ApiError) as err:
        await es.ml.start_trained_model_deployment(model_id=MODEL, number_of_allocations=100)
    assert err.value.meta.status == 429
    assert err.value.error == "status_exception"


async def test_timeout_408_is_api_error_with_its_own_type(make_sim: SimFactory) -> None:
    sim = await make_sim(allocation_delay=60.0, fake_clock=False)
    async with AsyncElasticsearch(sim.url, basic_auth=("elastic", "changeme")) as es:
        with pytest.raises(ApiError) as err:
            await es.ml.start_trained_model_deployment(model_id=MODEL, timeout="10ms")
    assert err.value.meta.status == 408
    assert err.value.error == "model_deployment_timeout_exception"


async def test_stop_unknown_with_allow_no_match_false_is_not_found(es: AsyncElasticsearch) -> None:
    with pytest.raises(NotFoundError) as err:
        await es.ml.stop_trained_model_deployment(model_id="nope", allow_no_match=False)
    assert err.value.body["error"]["reason"] == "No known model deployment with id [nope]"


async def test_unknown_update_is_not_found(es: AsyncElasticsearch) -> None:
    with pytest.raises(NotFoundError):
        await es.ml.update_trained_model_deployment(model_id="nope", number_of_allocations=2)


async def test_wrong_password_is_authentication_exception(sim: Simulator) -> None:
    async with AsyncElasticsearch(sim.url, basic_auth=("elastic", "wrong")) as es:
        with pytest.raises(AuthenticationException) as err:
            await es.ml.get_trained_models_stats()
    assert err.value.meta.status == 401
    assert err.value.error == "security_exception"


async def test_monitor_user_is_authorization_exception(make_sim: SimFactory) -> None:
    sim = await make_sim(users=[("watcher", "pw", "monitor_ml")])
    async with AsyncElasticsearch(sim.url, basic_auth=("watcher", "pw")) as es:
        stats = await es.ml.get_trained_models_stats()
        assert stats["count"] == 2
        with pytest.raises(AuthorizationException) as err:
            await es.ml.start_trained_model_deployment(model_id=MODEL)
    assert err.value.meta.status == 403


async def test_api_key_created_through_the_client_works(es: AsyncElasticsearch, sim: Simulator) -> None:
    key = await es.security.create_api_key(name="op", role_descriptors={"r": {"cluster": ["monitor_ml"]}})
    assert set(key.body) >= {"id", "name", "api_key", "encoded"}
    async with AsyncElasticsearch(sim.url, api_key=key["encoded"]) as limited:
        me = await limited.security.authenticate()
        assert me["authentication_type"] == "api_key"
        await limited.ml.get_trained_models_stats()
        with pytest.raises(AuthorizationException):
            await limited.ml.stop_trained_model_deployment(model_id=MODEL)


async def test_get_trained_models_and_put_model(es: AsyncElasticsearch) -> None:
    await es.ml.put_trained_model(
        model_id="tiny", model_type="pytorch", inference_config={"text_embedding": {}}, input={"field_names": ["t"]}
    )
    got = await es.ml.get_trained_models(model_id="tiny", include="definition_status")
    assert got["trained_model_configs"][0]["fully_defined"] is False
    with pytest.raises(NotFoundError) as err:
        await es.ml.start_trained_model_deployment(model_id="tiny")
    assert err.value.body["error"]["reason"] == "Could not find trained model definition [tiny]"
    await es.ml.delete_trained_model(model_id="tiny")
