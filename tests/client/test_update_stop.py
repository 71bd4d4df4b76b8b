from __future__ import annotations

import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.models import UNSET, AdaptiveAllocations, EsVersion

from .fakes import FakeES, assignment_body, es_error, es_json

UPDATE = "/_ml/trained_models/my-model-for-search/deployment/_update"
STOP = "/_ml/trained_models/my-model-for-search/deployment/_stop"
V86, V812, V815, V816, V9 = (EsVersion.parse(v) for v in ("8.6.0", "8.12.2", "8.15.0", "8.16.1", "9.0.3"))


@pytest.fixture
def updated(fake: FakeES) -> FakeES:
    fake.route("POST", UPDATE, es_json(200, assignment_body(number_of_allocations=3)))
    return fake


@pytest.mark.parametrize("version", [V86, V812, V815, V816, V9])
async def test_update_uses_body_form_on_every_version(
    updated: FakeES, es: ElasticsearchClient, version: EsVersion
) -> None:
    result = await es.update_deployment("my-model-for-search", version=version, number_of_allocations=3)
    assert dict(updated.last.url.params) == {}
    assert updated.last_json() == {"number_of_allocations": 3}
    assert updated.last.headers["content-type"] == "application/json"
    assert result.task_parameters.number_of_allocations == 3


async def test_update_before_86_is_unsupported(updated: FakeES, es: ElasticsearchClient) -> None:
    with pytest.raises(e.UnsupportedVersionError, match=r"_update API needs Elasticsearch 8\.6"):
        await es.update_deployment("my-model-for-search", version=EsVersion(8, 5, 3), number_of_allocations=2)
    assert updated.requests == []


@pytest.mark.parametrize("version", [V86, V812, V815])
async def test_update_enable_adaptive_before_816_is_unsupported(
    updated: FakeES, es: ElasticsearchClient, version: EsVersion
) -> None:
    with pytest.raises(e.UnsupportedVersionError, match="adaptive allocations"):
        await es.update_deployment(
            "my-model-for-search", version=version, adaptive_allocations=AdaptiveAllocations(True, 1, 3)
        )
    assert updated.requests == []


async def test_update_switch_adaptive_to_fixed_sends_both(updated: FakeES, es: ElasticsearchClient) -> None:
    await es.update_deployment(
        "my-model-for-search",
        version=V816,
        number_of_allocations=3,
        adaptive_allocations=AdaptiveAllocations(enabled=False),
    )
    assert updated.last_json() == {"number_of_allocations": 3, "adaptive_allocations": {"enabled": False}}


async def test_update_enable_adaptive_never_sends_number(updated: FakeES, es: ElasticsearchClient) -> None:
    await es.update_deployment(
        "my-model-for-search",
        version=V9,
        number_of_allocations=3,
        adaptive_allocations=AdaptiveAllocations(True, 0, 8),
    )
    assert updated.last_json() == {
        "adaptive_allocations": {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 8}
    }


async def test_update_adaptive_null_removes_settings(updated: FakeES, es: ElasticsearchClient) -> None:
    await es.update_deployment("my-model-for-search", version=V9, number_of_allocations=2, adaptive_allocations=None)
    assert updated.last_json() == {"number_of_allocations": 2, "adaptive_allocations": None}


async def test_update_unset_adaptive_is_not_sent(updated: FakeES, es: ElasticsearchClient) -> None:
    await es.update_deployment("my-model-for-search", version=V9, number_of_allocations=2, adaptive_allocations=UNSET)
    assert updated.last_json() == {"number_of_allocations": 2}


@pytest.mark.parametrize("adaptive", [None, AdaptiveAllocations(False)])
async def test_update_disabled_adaptive_before_816_is_left_out(
    updated: FakeES, es: ElasticsearchClient, adaptive: AdaptiveAllocations | None
) -> None:
    await es.update_deployment(
        "my-model-for-search", version=V815, number_of_allocations=2, adaptive_allocations=adaptive
    )
    assert updated.last_json() == {"number_of_allocations": 2}


async def test_update_nothing_left_before_816(updated: FakeES, es: ElasticsearchClient) -> None:
    with pytest.raises(e.UnsupportedVersionError, match="nothing left to change"):
        await es.update_deployment("my-model-for-search", version=V812, adaptive_allocations=None)
    assert updated.requests == []


async def test_update_needs_something(es: ElasticsearchClient) -> None:
    with pytest.raises(ValueError, match="number_of_allocations or adaptive_allocations"):
        await es.update_deployment("my-model-for-search", version=V9)


UPDATE_ERRORS = [
    (
        21,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [number_of_allocations] must be a positive integer;",
        e.BadRequestError,
    ),
    (
        22,
        404,
        "resource_not_found_exception",
        "No known model deployment with id [my-model-for-search]",
        e.NotFoundError,
    ),
    (
        23,
        400,
        "validation_exception",
        "Validation Failed: 1: [number_of_allocations] cannot be set if adaptive allocations is enabled;",
        e.BadRequestError,
    ),
    (24, 409, "status_exception", "cannot update deployment that is not in [started] state", e.ConflictError),
    (
        25,
        429,
        "status_exception",
        "Could not update deployment because there are not enough resources to provide all requested allocations",
        e.TooManyRequestsError,
    ),
    (
        26,
        409,
        "status_exception",
        "Cannot update deployment [my-model-for-search] as it was created by inference endpoint [my-elser]. "
        "This model deployment must be updated through the inference API.",
        e.ConflictError,
    ),
    (34, 400, "parse_exception", "request body is required", e.BadRequestError),
]


@pytest.mark.parametrize(
    ("row", "status", "etype", "reason", "cls"), UPDATE_ERRORS, ids=[f"row{r[0]}" for r in UPDATE_ERRORS]
)
async def test_update_error_catalogue(
    fake: FakeES, es: ElasticsearchClient, row: int, status: int, etype: str, reason: str, cls: type[e.ApiError]
) -> None:
    fake.route("POST", UPDATE, es_error(status, etype, reason))
    with pytest.raises(e.ApiError) as caught:
        await es.update_deployment("my-model-for-search", version=V9, number_of_allocations=5)
    err = caught.value
    assert type(err) is cls
    assert (err.status, err.error_type, err.reason) == (status, etype, reason)
    assert str(err) == (
        f"Elasticsearch rejected _update of deployment [my-model-for-search] ({status} {etype}): {reason}"
    )


# ----------------------------------------------------------------- stop


async def test_stop_defaults(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("POST", STOP, es_json(200, {"stopped": True}))
    await es.stop_deployment("my-model-for-search")
    assert dict(fake.last.url.params) == {"force": "false", "allow_no_match": "true"}
    assert fake.last.content == b""


async def test_stop_force_strict(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("POST", STOP, es_json(200, {"stopped": True}))
    await es.stop_deployment("my-model-for-search", force=True, allow_no_match=False)
    assert dict(fake.last.url.params) == {"force": "true", "allow_no_match": "false"}


STOP_ERRORS = [
    (
        27,
        404,
        "resource_not_found_exception",
        "No known model deployment with id [my-model-for-search]",
        e.NotFoundError,
    ),
    (
        28,
        409,
        "status_exception",
        "Cannot stop deployment [my-model-for-search] as it is referenced by ingest processors; use force to stop "
        "the deployment",
        e.ConflictError,
    ),
    (
        29,
        409,
        "status_exception",
        "Cannot stop deployment [my-model-for-search] as it has a model_alias [prod] that is still referenced by "
        "ingest processors; use force to stop the deployment",
        e.ConflictError,
    ),
    (
        30,
        409,
        "status_exception",
        "Cannot stop deployment [my-model-for-search] as it was created by inference endpoint [my-elser]",
        e.ConflictError,
    ),
]


@pytest.mark.parametrize(
    ("row", "status", "etype", "reason", "cls"), STOP_ERRORS, ids=[f"row{r[0]}" for r in STOP_ERRORS]
)
async def test_stop_error_catalogue(
    fake: FakeES, es: ElasticsearchClient, row: int, status: int, etype: str, reason: str, cls: type[e.ApiError]
) -> None:
    fake.route("POST", STOP, es_error(status, etype, reason))
    with pytest.raises(e.ApiError) as caught:
        await es.stop_deployment("my-model-for-search", allow_no_match=False)
    err = caught.value
    assert type(err) is cls
    assert str(err) == f"Elasticsearch rejected _stop of deployment [my-model-for-search] ({status} {etype}): {reason}"
