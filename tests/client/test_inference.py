"""``GET _inference/_all`` and ``PUT _inference/{task_type}/{id}/_update`` (INFERENCE_ENDPOINTS fact sheet 2.2, 2.3).

Payloads follow the shapes Elasticsearch prints (``ModelConfigurations``):
``{"endpoints": [...]}`` for GET, the endpoint itself for ``_update``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.models import (
    UNSET,
    AdaptiveAllocations,
    EsVersion,
    InferenceEndpoint,
    InferenceEndpoints,
    InferenceServiceSettings,
)

from .fakes import FakeES, es_error, es_json

ALL = "/_inference/_all"
UPDATE = "/_inference/sparse_embedding/my-elser/_update"
V811, V815, V816, V817, V818, V91, V92 = (
    EsVersion.parse(v) for v in ("8.11.0", "8.15.3", "8.16.0", "8.17.2", "8.18.0", "9.1.4", "9.2.0")
)
ELSER = ".elser_model_2_linux-x86_64"


def owning(inference_id: str = "my-elser", **settings: Any) -> dict[str, Any]:
    return {
        "inference_id": inference_id,
        "task_type": "sparse_embedding",
        "service": "elasticsearch",
        "service_settings": {"num_allocations": 2, "num_threads": 1, "model_id": ELSER, **settings},
        "chunking_settings": {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1},
    }


LISTING = {
    "endpoints": [
        {
            "inference_id": ".elser-2-elasticsearch",
            "task_type": "sparse_embedding",
            "service": "elasticsearch",
            "service_settings": {
                "num_threads": 1,
                "model_id": ".elser_model_2",
                "adaptive_allocations": {
                    "enabled": True,
                    "min_number_of_allocations": 0,
                    "max_number_of_allocations": 32,
                },
            },
        },
        {
            "inference_id": "e5-on-search",
            "task_type": "text_embedding",
            "service": "elasticsearch",
            "service_settings": {
                "num_allocations": 3,
                "num_threads": 2,
                "model_id": ".multilingual-e5-small",
                "deployment_id": "search-e5",
                "dimensions": 384,
                "similarity": "cosine",
                "element_type": "float",
            },
        },
        owning(),
        {
            "inference_id": "old-elser",
            "task_type": "sparse_embedding",
            "service": "elser",
            "service_settings": {"num_allocations": 1, "num_threads": 1, "model_id": ".elser_model_2"},
            "task_settings": {},
        },
        {
            "inference_id": "openai-embeddings",
            "task_type": "text_embedding",
            "service": "openai",
            "service_settings": {
                "model_id": "text-embedding-3-small",
                "rate_limit": {"requests_per_minute": 3000},
                "dimensions": 1536,
                "similarity": "dot_product",
            },
        },
    ]
}


async def test_listing_parses_every_endpoint_into_a_typed_value(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", ALL, es_json(200, LISTING))
    endpoints = await es.get_inference_endpoints(version=V92)
    assert fake.last.method == "GET" and fake.last.url.path == ALL and not fake.last.content
    assert [item.inference_id for item in endpoints] == [
        ".elser-2-elasticsearch",
        "e5-on-search",
        "my-elser",
        "old-elser",
        "openai-embeddings",
    ]
    default, attached, owned, elser, openai = endpoints
    assert default.service_settings == InferenceServiceSettings(
        model_id=".elser_model_2", num_threads=1, adaptive_allocations=AdaptiveAllocations(True, 0, 32)
    )
    assert attached.service_settings == InferenceServiceSettings(
        model_id=".multilingual-e5-small", deployment_id="search-e5", num_allocations=3, num_threads=2
    )
    assert owned == InferenceEndpoint(
        "my-elser", "sparse_embedding", "elasticsearch", InferenceServiceSettings(ELSER, None, 2, 1, None)
    )
    assert elser.service == "elser" and elser.service_settings.num_allocations == 1
    # Other services' settings have shapes of their own: they are not read.
    assert openai.service_settings == InferenceServiceSettings()


async def test_ownership_is_inferred_from_the_ids(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", ALL, es_json(200, LISTING))
    listing = InferenceEndpoints(await es.get_inference_endpoints(version=V92))
    owner = listing.owner_of("my-elser")
    assert owner is not None and owner.inference_id == "my-elser"
    assert listing.owner_of(".elser-2-elasticsearch") is not None  # default endpoints own their deployment too
    assert listing.owner_of("old-elser") is not None  # the deprecated elser service as well
    # An attached endpoint owns nothing: its deployment was started with _start.
    assert listing.owner_of("search-e5") is None and listing.owner_of("e5-on-search") is None
    assert [item.inference_id for item in listing.attached_to("search-e5")] == ["e5-on-search"]
    assert listing.attached_to("my-elser") == ()
    assert listing.owner_of("openai-embeddings") is None  # not on the ML nodes
    assert listing.owner_of("text-embedding-3-small") is None


async def test_an_empty_listing(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("GET", ALL, es_json(200, {"endpoints": []}))
    assert await es.get_inference_endpoints(version=V811) == ()


async def test_a_listing_before_813_is_called_models(fake: FakeES, es: ElasticsearchClient) -> None:
    # Elasticsearch 8.11 and 8.12 list under "models" (Elastic's YAML REST tests of that time)
    fake.route("GET", ALL, es_json(200, {"models": [owning()]}))
    listed = await es.get_inference_endpoints(version=V811)
    assert [item.inference_id for item in listed] == [owning()["inference_id"]]


async def test_listing_before_811_is_not_sent(fake: FakeES, es: ElasticsearchClient) -> None:
    with pytest.raises(e.UnsupportedVersionError, match=r"_inference API needs Elasticsearch 8\.11"):
        await es.get_inference_endpoints(version=EsVersion(8, 10, 4))
    assert fake.requests == []


async def test_listing_without_monitor_inference_is_an_authorization_error(
    fake: FakeES, es: ElasticsearchClient
) -> None:
    reason = (
        "action [cluster:monitor/xpack/inference/get] is unauthorized for API key id [k1] of user [elastic], "
        "this action is granted by the cluster privileges [monitor_inference,manage_inference,monitor,manage,all]"
    )
    fake.route("GET", ALL, es_error(403, "security_exception", reason))
    with pytest.raises(e.AuthorizationError) as raised:
        await es.get_inference_endpoints(version=V92)
    assert raised.value.status == 403 and "monitor_inference" in raised.value.message


@pytest.mark.parametrize(
    "body",
    [
        {"endpoint": []},
        {"endpoints": {"my-elser": {}}},
        {"endpoints": [{"task_type": "sparse_embedding", "service": "elasticsearch"}]},
        {"endpoints": [owning(num_allocations="two")]},
        {"endpoints": [owning(adaptive_allocations={"enabled": "yes"})]},
    ],
)
async def test_malformed_listings_are_reported(fake: FakeES, es: ElasticsearchClient, body: Any) -> None:
    fake.route("GET", ALL, es_json(200, body))
    with pytest.raises(e.MalformedResponseError, match="listing of inference endpoints"):
        await es.get_inference_endpoints(version=V92)


# -- _update ------------------------------------------------------------------------------------


@pytest.fixture
def updated(fake: FakeES) -> FakeES:
    fake.route("PUT", UPDATE, es_json(200, owning(num_allocations=3)))
    return fake


@pytest.mark.parametrize("version", [V816, V817, V818, V91, V92])
async def test_update_sends_num_allocations_in_service_settings(
    updated: FakeES, es: ElasticsearchClient, version: EsVersion
) -> None:
    answer = await es.update_inference_endpoint("sparse_embedding", "my-elser", version=version, num_allocations=3)
    request = updated.last
    assert (request.method, request.url.path) == ("PUT", UPDATE)
    assert updated.last_json() == {"service_settings": {"num_allocations": 3}}
    assert request.headers["content-type"] == "application/json" and not request.url.params
    assert answer.inference_id == "my-elser" and answer.service_settings.num_allocations == 3


async def test_update_enabling_adaptive_sends_only_the_adaptive_object(
    updated: FakeES, es: ElasticsearchClient
) -> None:
    await es.update_inference_endpoint(
        "sparse_embedding",
        "my-elser",
        version=V92,
        num_allocations=4,
        adaptive_allocations=AdaptiveAllocations(True, 0, 4),
    )
    assert updated.last_json() == {
        "service_settings": {
            "adaptive_allocations": {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 4}
        }
    }


async def test_update_switching_adaptive_off_sends_both_keys(updated: FakeES, es: ElasticsearchClient) -> None:
    await es.update_inference_endpoint(
        "sparse_embedding",
        "my-elser",
        version=V92,
        num_allocations=2,
        adaptive_allocations=AdaptiveAllocations(False),
    )
    assert len(updated.requests) == 1
    assert updated.last_json() == {
        "service_settings": {"adaptive_allocations": {"enabled": False}, "num_allocations": 2}
    }


async def test_update_falls_back_to_num_allocations_alone_where_only_one_key_is_accepted(
    fake: FakeES, es: ElasticsearchClient
) -> None:
    refusal = "Validation Failed: 1: [num_allocations] cannot be set if [adaptive_allocations] is set;"
    fake.route("PUT", UPDATE, [es_error(400, "validation_exception", refusal), es_json(200, owning())])
    answer = await es.update_inference_endpoint(
        "sparse_embedding",
        "my-elser",
        version=V92,
        num_allocations=2,
        adaptive_allocations=AdaptiveAllocations(False),
    )
    assert answer.service_settings.num_allocations == 2
    first = json.loads(fake.requests[0].content)
    assert first == {"service_settings": {"adaptive_allocations": {"enabled": False}, "num_allocations": 2}}
    assert [r.url.path for r in fake.requests] == [UPDATE, UPDATE]
    assert fake.last_json() == {"service_settings": {"num_allocations": 2}}  # which clears adaptive there


async def test_other_bad_requests_are_not_retried(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("PUT", UPDATE, es_error(400, "status_exception", "Default endpoint [my-elser] cannot be updated"))
    with pytest.raises(e.BadRequestError, match="cannot be updated"):
        await es.update_inference_endpoint(
            "sparse_embedding",
            "my-elser",
            version=V92,
            num_allocations=2,
            adaptive_allocations=AdaptiveAllocations(False),
        )
    assert len(fake.requests) == 1


@pytest.mark.parametrize(
    ("status", "error_type", "reason", "error_class"),
    [
        (
            404,
            "resource_not_found_exception",
            "The inference endpoint [my-elser] does not exist and cannot be updated",
            e.NotFoundError,
        ),
        (
            409,
            "status_exception",
            "Cannot update inference endpoint [my-elser] using model deployment [x]. The model "
            "deployment must be updated through the trained models API.",
            e.ConflictError,
        ),
        (
            403,
            "security_exception",
            "action [cluster:admin/xpack/inference/update] is unauthorized for user "
            "[esml], this action is granted by the cluster privileges [manage_inference,manage,all]",
            e.AuthorizationError,
        ),
        (
            429,
            "status_exception",
            "Could not update deployment because there are not enough resources to provide all requested allocations",
            e.TooManyRequestsError,
        ),
    ],
)
async def test_update_errors_use_the_error_vocabulary(
    fake: FakeES, es: ElasticsearchClient, status: int, error_type: str, reason: str, error_class: type[Exception]
) -> None:
    fake.route("PUT", UPDATE, es_error(status, error_type, reason))
    with pytest.raises(error_class) as raised:
        await es.update_inference_endpoint("sparse_embedding", "my-elser", version=V92, num_allocations=2)
    assert isinstance(raised.value, e.ApiError) and raised.value.status == status
    assert "_update of inference endpoint [my-elser]" in raised.value.message


async def test_update_before_816_is_not_sent(fake: FakeES, es: ElasticsearchClient) -> None:
    with pytest.raises(e.UnsupportedVersionError, match=r"inference _update API needs Elasticsearch 8\.16"):
        await es.update_inference_endpoint("sparse_embedding", "my-elser", version=V815, num_allocations=2)
    assert fake.requests == []


@pytest.mark.parametrize("version", [V816, V817])
async def test_adaptive_through_the_inference_update_needs_818(
    fake: FakeES, es: ElasticsearchClient, version: EsVersion
) -> None:
    with pytest.raises(e.UnsupportedVersionError, match=r"adaptive_allocations in the inference _update"):
        await es.update_inference_endpoint(
            "sparse_embedding", "my-elser", version=version, adaptive_allocations=AdaptiveAllocations(True, 1, 2)
        )
    assert fake.requests == []


async def test_update_needs_something_to_send(es: ElasticsearchClient) -> None:
    with pytest.raises(ValueError, match="needs num_allocations or adaptive_allocations"):
        await es.update_inference_endpoint("sparse_embedding", "my-elser", version=V92, adaptive_allocations=UNSET)


async def test_ids_are_path_encoded(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("PUT", "/_inference/sparse_embedding/a%2Fb%20c/_update", es_json(200, owning()))
    await es.update_inference_endpoint("sparse_embedding", "a/b c", version=V92, num_allocations=1)
    assert fake.last.url.raw_path == b"/_inference/sparse_embedding/a%2Fb%20c/_update"
    with pytest.raises(ValueError, match="inference_id must not be empty"):
        await es.update_inference_endpoint("sparse_embedding", "", version=V92, num_allocations=1)
