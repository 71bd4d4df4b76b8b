"""Inference endpoints through the official client (``es.inference.*``) on the default 9.2 emulation."""

from __future__ import annotations

from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch, BadRequestError, ConflictError, NotFoundError

from esml_simulator import Simulator

from .conftest import MODEL, SimFactory

ELSER = ".elser_model_2_linux-x86_64"
OWNED = {"service": "elasticsearch", "service_settings": {"model_id": ELSER, "num_threads": 2, "num_allocations": 2}}
CHUNKING = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
ADAPTIVE_0_32 = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32}


async def deployment_stats(es: AsyncElasticsearch, deployment_id: str) -> dict[str, Any] | None:
    stats = await es.ml.get_trained_models_stats(model_id="_all")
    for entry in stats["trained_model_stats"]:
        found = entry.get("deployment_stats")
        if found and found["deployment_id"] == deployment_id:
            return dict(found)
    return None


async def put_owned(es: AsyncElasticsearch, inference_id: str = "my-elser", **settings: Any) -> dict[str, Any]:
    config = {"service": "elasticsearch", "service_settings": {**OWNED["service_settings"], **settings}}
    config["service_settings"] = {k: v for k, v in config["service_settings"].items() if v is not None}
    created = await es.inference.put(task_type="sparse_embedding", inference_id=inference_id, inference_config=config)
    return dict(created.body)


async def test_put_creates_the_deployment_named_after_the_endpoint(es: AsyncElasticsearch) -> None:
    created = await put_owned(es)
    assert created == {
        "inference_id": "my-elser",
        "task_type": "sparse_embedding",
        "service": "elasticsearch",
        "service_settings": {"num_allocations": 2, "num_threads": 2, "model_id": ELSER},
        "chunking_settings": CHUNKING,
    }
    stats = await deployment_stats(es, "my-elser")
    assert stats is not None
    assert (stats["model_id"], stats["threads_per_allocation"], stats["number_of_allocations"]) == (ELSER, 2, 2)
    assert stats["state"] == "started"  # the PUT waited for the deployment
    assert stats["queue_capacity"] == 10000 and stats["priority"] == "normal"
    models = await es.ml.get_trained_models(model_id=ELSER)  # the built-in model was downloaded
    assert models["trained_model_configs"][0]["inference_config"].keys() == {"text_expansion"}


async def test_adaptive_endpoint_starts_at_min_or_one_and_get_shows_the_live_count(es: AsyncElasticsearch) -> None:
    adaptive = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 4}
    created = await put_owned(es, "adaptive", num_allocations=None, adaptive_allocations=adaptive)
    assert "num_allocations" not in created["service_settings"]  # PUT echoes the stored config
    got = await es.inference.get(inference_id="adaptive")
    assert got["endpoints"][0]["service_settings"] == {
        "num_allocations": 1,
        "num_threads": 2,
        "model_id": ELSER,
        "adaptive_allocations": adaptive,
    }


async def test_get_one_by_task_type_all_and_none(es: AsyncElasticsearch) -> None:
    await put_owned(es, "b-endpoint")
    await es.inference.put(
        task_type="text_embedding",
        inference_id="a-endpoint",
        inference_config={
            "service": "elasticsearch",
            "service_settings": {"model_id": ".multilingual-e5-small", "num_threads": 1, "num_allocations": 1},
        },
    )
    everything = [e["inference_id"] for e in (await es.inference.get())["endpoints"]]
    assert everything == [
        ".elser-2-elasticsearch",
        ".multilingual-e5-small-elasticsearch",
        ".rerank-v1-elasticsearch",
        "a-endpoint",
        "b-endpoint",
    ]
    assert [e["inference_id"] for e in (await es.inference.get(inference_id="_all"))["endpoints"]] == everything
    sparse = await es.inference.get(task_type="sparse_embedding", inference_id="_all")
    assert [e["inference_id"] for e in sparse["endpoints"]] == [".elser-2-elasticsearch", "b-endpoint"]
    one = await es.inference.get(task_type="sparse_embedding", inference_id="b-endpoint")
    assert [e["inference_id"] for e in one["endpoints"]] == ["b-endpoint"]
    with pytest.raises(NotFoundError) as missing:
        await es.inference.get(inference_id="nope")
    assert missing.value.body["error"]["reason"] == "Inference endpoint not found [nope]"
    with pytest.raises(BadRequestError) as wrong_type:
        await es.inference.get(task_type="text_embedding", inference_id="b-endpoint")
    assert wrong_type.value.body["error"]["reason"] == (
        "Requested task type [text_embedding] does not match the inference endpoint's task type [sparse_embedding]"
    )


async def test_default_endpoints_are_adaptive_and_deploy_on_first_use(es: AsyncElasticsearch) -> None:
    got = await es.inference.get(inference_id=".elser-2-elasticsearch")
    assert got["endpoints"][0]["service_settings"] == {
        "num_threads": 1,
        "model_id": ELSER,
        "adaptive_allocations": ADAPTIVE_0_32,
    }
    assert await deployment_stats(es, ".elser-2-elasticsearch") is None  # GET does not deploy
    result = await es.inference.inference(inference_id=".elser-2-elasticsearch", input=["washing machine"])
    assert set(result["sparse_embedding"][0]["embedding"]) == {"washing", "machine"}
    stats = await deployment_stats(es, ".elser-2-elasticsearch")
    assert stats is not None
    assert stats["adaptive_allocations"] == ADAPTIVE_0_32
    assert stats["allocation_status"]["allocation_count"] == 1
    assert stats["inference_count"] == 1
    with pytest.raises(ConflictError):  # a default endpoint owns its deployment too
        await es.ml.update_trained_model_deployment(model_id=".elser-2-elasticsearch", number_of_allocations=2)


async def test_update_goes_through_the_inference_api_and_ml_update_is_409(
    sim: Simulator, es: AsyncElasticsearch
) -> None:
    await put_owned(es)
    updated = await es.inference.update(
        task_type="sparse_embedding",
        inference_id="my-elser",
        inference_config={"service_settings": {"num_allocations": 3}},
    )
    assert updated["service_settings"]["num_allocations"] == 3
    assert (await deployment_stats(es, "my-elser") or {})["number_of_allocations"] == 3
    with pytest.raises(ConflictError) as err:
        await es.ml.update_trained_model_deployment(model_id="my-elser", number_of_allocations=1)
    assert err.value.body["error"]["reason"] == (
        "Cannot update deployment [my-elser] as it was created by inference endpoint [my-elser]. This model "
        "deployment must be updated through the inference API."
    )
    conflicts = [r for r in sim.control.requests(path_prefix="/_ml/") if r["status"] == 409]
    assert [(r["method"], r["path"]) for r in conflicts] == [
        ("POST", "/_ml/trained_models/my-elser/deployment/_update")
    ]
    assert [r["status"] for r in sim.control.requests(path_prefix="/_inference/")] == [200, 200]


async def test_switching_adaptive_on_and_off_through_update(es: AsyncElasticsearch) -> None:
    await put_owned(es)
    on = {"enabled": True, "min_number_of_allocations": 1, "max_number_of_allocations": 4}
    body = {"service_settings": {"adaptive_allocations": on}}
    updated = await es.inference.update(task_type="sparse_embedding", inference_id="my-elser", inference_config=body)
    assert updated["service_settings"]["adaptive_allocations"] == on
    assert (await deployment_stats(es, "my-elser") or {})["adaptive_allocations"] == on
    with pytest.raises(BadRequestError) as err:  # the ML rule: a count while adaptive is on
        await es.inference.update(
            task_type="sparse_embedding",
            inference_id="my-elser",
            inference_config={"service_settings": {"num_allocations": 3}},
        )
    assert err.value.error == "validation_exception"
    off = {"service_settings": {"num_allocations": 2, "adaptive_allocations": {"enabled": False}}}
    updated = await es.inference.update(task_type="sparse_embedding", inference_id="my-elser", inference_config=off)
    assert updated["service_settings"]["adaptive_allocations"]["enabled"] is False
    stats = await deployment_stats(es, "my-elser") or {}
    assert (stats["number_of_allocations"], stats["adaptive_allocations"]["enabled"]) == (2, False)


async def test_attached_endpoint_is_updated_through_the_ml_api(es: AsyncElasticsearch) -> None:
    await es.ml.put_trained_model(
        model_id="my-sparse",
        model_type="pytorch",
        inference_config={"text_expansion": {}},
        input={"field_names": ["t"]},
    )
    await es.ml.start_trained_model_deployment(model_id=MODEL, deployment_id="ner-for-search")
    with pytest.raises(BadRequestError) as wrong:  # a NER model cannot serve sparse_embedding
        await es.inference.put(
            task_type="sparse_embedding",
            inference_id="ner-endpoint",
            inference_config={"service": "elasticsearch", "service_settings": {"deployment_id": "ner-for-search"}},
        )
    assert wrong.value.body["error"]["reason"] == (
        f"Deployed model [{MODEL}] with type [ner] does not match the requested task type [sparse_embedding]"
    )


async def test_attached_endpoint_shares_a_deployment_started_with_the_ml_api(make_sim: SimFactory) -> None:
    sim = await make_sim(models=[ELSER])
    async with AsyncElasticsearch(sim.url, basic_auth=("elastic", "changeme")) as es:
        await es.ml.start_trained_model_deployment(model_id=ELSER, deployment_id="shared", number_of_allocations=2)
        config = {"service": "elasticsearch", "service_settings": {"deployment_id": "shared"}}
        created = await es.inference.put(task_type="sparse_embedding", inference_id="attached", inference_config=config)
        assert created["service_settings"] == {
            "num_allocations": 2,
            "num_threads": 1,
            "model_id": ELSER,
            "deployment_id": "shared",
        }
        with pytest.raises(ConflictError) as err:
            await es.inference.update(
                task_type="sparse_embedding",
                inference_id="attached",
                inference_config={"service_settings": {"num_allocations": 3}},
            )
        assert err.value.body["error"]["reason"] == (
            "Cannot update inference endpoint [attached] using model deployment [shared]. The model deployment "
            "must be updated through the trained models API."
        )
        await es.ml.update_trained_model_deployment(model_id="shared", number_of_allocations=3)
        got = await es.inference.get(inference_id="attached")
        assert got["endpoints"][0]["service_settings"]["num_allocations"] == 3  # live value
        with pytest.raises(ConflictError) as stop:
            await es.ml.stop_trained_model_deployment(model_id="shared")
        assert stop.value.body["error"]["reason"].startswith(
            "Cannot stop deployment [shared] as it is used by inference endpoint [attached]"
        )
        deleted = await es.inference.delete(inference_id="attached")
        assert deleted.body == {"acknowledged": True, "pipelines": [], "indexes": []}
        assert await deployment_stats(es, "shared") is not None  # an attached endpoint stops nothing


async def test_endpoint_attached_to_another_endpoints_deployment(es: AsyncElasticsearch) -> None:
    await put_owned(es, "first")
    config = {"service": "elasticsearch", "service_settings": {"deployment_id": "first"}}
    await es.inference.put(task_type="sparse_embedding", inference_id="second", inference_config=config)
    with pytest.raises(ConflictError) as err:
        await es.inference.update(
            task_type="sparse_embedding",
            inference_id="second",
            inference_config={"service_settings": {"num_allocations": 3}},
        )
    assert err.value.body["error"]["reason"] == (
        "Cannot update inference endpoint [second] for model deployment [first] as it was created by another "
        "inference endpoint. The model can only be updated using inference endpoint id [first]."
    )


async def test_delete_stops_the_owned_deployment_and_respects_pipelines(sim: Simulator, es: AsyncElasticsearch) -> None:
    await put_owned(es)
    sim.control.put_pipeline("ingest", {"processors": [{"inference": {"model_id": "my-elser"}}]})
    with pytest.raises(ConflictError) as err:
        await es.inference.delete(inference_id="my-elser")
    assert err.value.body["error"]["reason"] == (
        "Inference endpoint my-elser is referenced by pipelines: [ingest]. Ensure that no pipelines are using this "
        "inference endpoint, or use force to ignore this warning and delete the inference endpoint."
    )
    dry = await es.inference.delete(inference_id="my-elser", dry_run=True)
    assert dry.body == {
        "acknowledged": False,
        "pipelines": ["ingest"],
        "indexes": [],
        "error_message": err.value.body["error"]["reason"],
    }
    assert await deployment_stats(es, "my-elser") is not None
    with pytest.raises(ConflictError) as stop:
        await es.ml.stop_trained_model_deployment(model_id="my-elser")
    assert stop.value.body["error"]["reason"].startswith(
        "Cannot stop deployment [my-elser] as it was created by inference endpoint [my-elser]"
    )
    forced = await es.inference.delete(task_type="sparse_embedding", inference_id="my-elser", force=True)
    assert forced.body == {"acknowledged": True, "pipelines": [], "indexes": []}
    assert await deployment_stats(es, "my-elser") is None
    with pytest.raises(NotFoundError):
        await es.inference.get(inference_id="my-elser")


async def test_default_endpoint_delete_needs_force_and_it_comes_back(es: AsyncElasticsearch) -> None:
    await es.inference.inference(inference_id=".elser-2-elasticsearch", input="deploy me")
    with pytest.raises(BadRequestError) as err:
        await es.inference.delete(inference_id=".elser-2-elasticsearch")
    assert err.value.body["error"]["reason"] == (
        "[.elser-2-elasticsearch] is a reserved inference endpoint. Use the force=true query parameter to delete "
        "the inference endpoint."
    )
    await es.inference.delete(inference_id=".elser-2-elasticsearch", force=True)
    assert await deployment_stats(es, ".elser-2-elasticsearch") is None
    assert (await es.inference.get(inference_id=".elser-2-elasticsearch"))["endpoints"]  # still listed


async def test_ml_stop_with_force_stops_an_endpoint_deployment(es: AsyncElasticsearch) -> None:
    await put_owned(es)
    assert (await es.ml.stop_trained_model_deployment(model_id="my-elser", force=True)).body == {"stopped": True}
    assert await deployment_stats(es, "my-elser") is None
    got = await es.inference.get(inference_id="my-elser")  # the endpoint stays, with its stored count
    assert got["endpoints"][0]["service_settings"]["num_allocations"] == 2
