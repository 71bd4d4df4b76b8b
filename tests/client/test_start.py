from __future__ import annotations

import httpx
import pytest

from esml_operator.elasticsearch import errors as e
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.models import (
    AdaptiveAllocations,
    Assignment,
    EsVersion,
    NodeRoute,
    TaskParameters,
)

from .fakes import FakeES, assignment_body, es_error, es_json

START = "/_ml/trained_models/my-model/deployment/_start"
V = {v: EsVersion.parse(v) for v in ("8.5.3", "8.6.2", "8.8.0", "8.12.2", "8.15.5", "8.16.0", "9.1.4")}


@pytest.fixture
def started(fake: FakeES) -> FakeES:
    fake.route("POST", START, es_json(200, assignment_body()))
    return fake


async def test_start_sends_query_params_and_no_body(started: FakeES, es: ElasticsearchClient) -> None:
    result = await es.start_deployment(
        "my-model",
        version=V["8.15.5"],
        deployment_id="my-model-for-search",
        number_of_allocations=2,
        threads_per_allocation=4,
        queue_capacity=500,
        cache_size="10mb",
        priority="normal",
        timeout="30s",
    )
    request = started.last
    assert request.method == "POST"
    assert dict(request.url.params) == {
        "deployment_id": "my-model-for-search",
        "number_of_allocations": "2",
        "threads_per_allocation": "4",
        "queue_capacity": "500",
        "cache_size": "10mb",
        "priority": "normal",
        "wait_for": "starting",
        "timeout": "30s",
    }
    assert request.content == b""
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert isinstance(result, Assignment)


async def test_start_parses_assignment(started: FakeES, es: ElasticsearchClient) -> None:
    result = await es.start_deployment("my-model", version=V["9.1.4"])
    assert result == Assignment(
        task_parameters=TaskParameters(
            model_id="my-model",
            deployment_id="my-model-for-search",
            number_of_allocations=2,
            threads_per_allocation=1,
            queue_capacity=10000,
            priority="normal",
            cache_size="265632637b",
            model_bytes=265632637,
        ),
        assignment_state="started",
        routing_table=(
            NodeRoute("uckeG3R8TLe2MMNBQ6AGrw", "started", reason=None, current_allocations=1, target_allocations=2),
        ),
        reason="Could not assign (more) allocations on node [uckeG3R8TLe2MMNBQ6AGrw]. "
        "Reason: This node has insufficient allocated processors",
        start_time="2024-05-02T11:50:34.766591Z",
        max_assigned_allocations=1,
        adaptive_allocations=None,
    )
    assert dict(started.last.url.params) == {"wait_for": "starting"}


async def test_start_empty_routing_table_and_adaptive(fake: FakeES, es: ElasticsearchClient) -> None:
    body = assignment_body(state="starting", adaptive={"enabled": True, "min_number_of_allocations": 1})
    body["assignment"]["routing_table"] = {}
    del body["assignment"]["reason"]
    fake.route("POST", START, es_json(200, body))
    result = await es.start_deployment("my-model", version=V["8.16.0"])
    assert result.routing_table == ()
    assert result.reason is None
    assert result.assignment_state == "starting"
    assert result.adaptive_allocations == AdaptiveAllocations(True, 1, None)


async def test_start_adaptive_goes_in_body_without_number_of_allocations(
    started: FakeES, es: ElasticsearchClient
) -> None:
    await es.start_deployment(
        "my-model",
        version=V["8.16.0"],
        number_of_allocations=3,
        threads_per_allocation=2,
        adaptive_allocations=AdaptiveAllocations(True, 0, 4),
        wait_for="started",
    )
    request = started.last
    assert dict(request.url.params) == {"threads_per_allocation": "2", "wait_for": "started"}
    assert started.last_json() == {
        "adaptive_allocations": {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 4}
    }


async def test_start_disabled_adaptive_on_816_is_sent_with_count(started: FakeES, es: ElasticsearchClient) -> None:
    await es.start_deployment(
        "my-model", version=V["9.1.4"], number_of_allocations=3, adaptive_allocations=AdaptiveAllocations(False)
    )
    assert started.last.url.params["number_of_allocations"] == "3"
    assert started.last_json() == {"adaptive_allocations": {"enabled": False}}


@pytest.mark.parametrize("version", ["8.6.2", "8.8.0", "8.12.2", "8.15.5"])
async def test_start_disabled_adaptive_before_816_is_left_out(
    started: FakeES, es: ElasticsearchClient, version: str
) -> None:
    await es.start_deployment(
        "my-model", version=V[version], number_of_allocations=2, adaptive_allocations=AdaptiveAllocations(False, 1, 2)
    )
    assert started.last.content == b""
    assert started.last.url.params["number_of_allocations"] == "2"


# ----------------------------------------------------------------- version gating

GATES: list[tuple[str, dict[str, object], set[str]]] = [
    # (feature, kwargs, versions where the request is refused before sending)
    ("deployment_id", {"deployment_id": "my-model-for-search"}, {"8.5.3", "8.6.2"}),
    ("priority low", {"priority": "low"}, {"8.5.3"}),
    (
        "adaptive",
        {"adaptive_allocations": AdaptiveAllocations(True, 1, 4)},
        {"8.5.3", "8.6.2", "8.8.0", "8.12.2", "8.15.5"},
    ),
]


@pytest.mark.parametrize("version", sorted(V))
@pytest.mark.parametrize(("feature", "kwargs", "refused"), GATES, ids=[g[0] for g in GATES])
async def test_start_version_gates(
    started: FakeES,
    es: ElasticsearchClient,
    version: str,
    feature: str,
    kwargs: dict[str, object],
    refused: set[str],
) -> None:
    if version in refused:
        with pytest.raises(e.UnsupportedVersionError) as caught:
            await es.start_deployment("my-model", version=V[version], **kwargs)  # type: ignore[arg-type]
        assert not caught.value.temporary
        assert str(V[version]) in str(caught.value)
        assert started.requests == []
    else:
        await es.start_deployment("my-model", version=V[version], **kwargs)  # type: ignore[arg-type]
        assert len(started.requests) == 1


@pytest.mark.parametrize(("version", "sent"), [("8.6.2", False), ("8.8.0", True), ("9.1.4", True)])
async def test_start_deployment_id_equal_to_model_id(
    started: FakeES, es: ElasticsearchClient, version: str, sent: bool
) -> None:
    await es.start_deployment("my-model", version=V[version], deployment_id="my-model")
    assert ("deployment_id" in started.last.url.params) is sent


@pytest.mark.parametrize(("version", "sent"), [("8.5.3", False), ("8.6.2", True)])
async def test_start_normal_priority_left_out_before_86(
    started: FakeES, es: ElasticsearchClient, version: str, sent: bool
) -> None:
    await es.start_deployment("my-model", version=V[version], priority="normal")
    assert ("priority" in started.last.url.params) is sent


async def test_start_cache_size_before_84(started: FakeES, es: ElasticsearchClient) -> None:
    with pytest.raises(e.UnsupportedVersionError, match="cache_size"):
        await es.start_deployment("my-model", version=EsVersion(8, 3), cache_size="0")
    assert started.requests == []


async def test_start_model_id_is_path_escaped(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("POST", "/_ml/trained_models/a%2Fb/deployment/_start", es_json(200, assignment_body()))
    await es.start_deployment("a/b", version=V["9.1.4"])
    assert fake.last.url.raw_path.startswith(b"/_ml/trained_models/a%2Fb/deployment/_start")


async def test_start_rejects_empty_model_id(es: ElasticsearchClient) -> None:
    with pytest.raises(ValueError, match="model_id"):
        await es.start_deployment("", version=V["9.1.4"])


async def test_start_parses_pre_83_allocation_shape(fake: FakeES, es: ElasticsearchClient) -> None:
    body = {
        "allocation": {
            "task_parameters": {
                "model_id": "my-model",
                "model_bytes": 10,
                "model_threads": 2,
                "inference_threads": 1,
                "queue_capacity": 1024,
            },
            "routing_table": {"n1": {"routing_state": "starting", "reason": ""}},
            "allocation_state": "starting",
            "start_time": "2022-02-01T00:00:00Z",
        }
    }
    fake.route("POST", START, es_json(200, body))
    result = await es.start_deployment("my-model", version=EsVersion(8, 2))
    assert result.task_parameters.deployment_id == "my-model"
    assert result.task_parameters.number_of_allocations == 2
    assert result.routing_table == (NodeRoute("n1", "starting"),)


async def test_start_malformed_assignment(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route("POST", START, es_json(200, {"assignment": {"task_parameters": {"model_id": "my-model"}}}))
    with pytest.raises(e.MalformedResponseError, match=r"_start of model \[my-model\]"):
        await es.start_deployment("my-model", version=V["9.1.4"])


# ----------------------------------------------------------------- catalogue rows (§6.2)

START_ERRORS = [
    (
        1,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [number_of_allocations] must be a positive integer;",
        e.BadRequestError,
    ),
    (2, 404, "resource_not_found_exception", "No known trained model with model_id [my-model]", e.NotFoundError),
    (3, 404, "resource_not_found_exception", "Could not find trained model definition [my-model]", e.NotFoundError),
    (
        5,
        400,
        "status_exception",
        "model [my-model] of type [tree_ensemble] cannot be deployed. Only PyTorch models can be deployed",
        e.BadRequestError,
    ),
    (
        7,
        400,
        "status_exception",
        "Could not start model deployment because an existing deployment with the same id [my-model] exist",
        e.BadRequestError,
    ),
    (
        9,
        409,
        "status_exception",
        "Cannot start deployment [my-model] because it has already been started",
        e.ConflictError,
    ),
    (
        10,
        429,
        "status_exception",
        "Could not start model deployment because existing deployments reached the limit of [100]",
        e.TooManyRequestsError,
    ),
    (
        12,
        429,
        "status_exception",
        "Could not start deployment because there are not enough resources to provide all requested allocations",
        e.TooManyRequestsError,
    ),
    (
        13,
        408,
        "model_deployment_timeout_exception",
        "Timed out after [30s] waiting for trained model deployment [my-model] to start. Use the trained model "
        "stats API to track the state of the deployment and try again once it has started.",
        e.RequestTimeoutError,
    ),
    (
        14,
        500,
        "status_exception",
        "Could not start trained model deployment, the following nodes failed with errors [{n1=oom}]",
        e.ServerError,
    ),
    (
        16,
        403,
        "status_exception",
        "Cannot start model deployment [my-model] while cluster upgrade is in progress.",
        e.ClusterNotReadyError,
    ),
    (
        17,
        409,
        "status_exception",
        "cannot create new assignment [my-model] for model [my-model] while feature reset is in progress.",
        e.ConflictError,
    ),
    (18, 403, "security_exception", "current license is non-compliant for [ml]", e.AuthorizationError),
    (
        32,
        400,
        "illegal_argument_exception",
        "request [/_ml/trained_models/my-model/deployment/_start] contains unrecognized parameter: [cache_size]",
        e.BadRequestError,
    ),
]


@pytest.mark.parametrize(
    ("row", "status", "etype", "reason", "cls"), START_ERRORS, ids=[f"row{r[0]}" for r in START_ERRORS]
)
async def test_start_error_catalogue(
    fake: FakeES, es: ElasticsearchClient, row: int, status: int, etype: str, reason: str, cls: type[e.ApiError]
) -> None:
    fake.route("POST", START, es_error(status, etype, reason))
    with pytest.raises(e.ApiError) as caught:
        await es.start_deployment("my-model", version=V["9.1.4"])
    err = caught.value
    assert type(err) is cls
    assert (err.status, err.error_type, err.reason) == (status, etype, reason)
    verb = "failed" if status >= 500 else "rejected"
    assert str(err) == f"Elasticsearch {verb} _start of model [my-model] ({status} {etype}): {reason}"


async def test_start_capacity_429_with_nested_cause(fake: FakeES, es: ElasticsearchClient) -> None:
    fake.route(
        "POST",
        START,
        es_error(
            429,
            "status_exception",
            "Could not start deployment because no ML nodes with sufficient capacity were found",
            caused_by={
                "type": "illegal_state_exception",
                "reason": "Could not start deployment because no suitable nodes were found, allocation "
                "explanation [Could not assign (more) allocations on node [n1]. Reason: insufficient memory]",
            },
            headers={"Retry-After": "30"},
        ),
    )
    with pytest.raises(e.TooManyRequestsError) as caught:
        await es.start_deployment("my-model", version=V["9.1.4"], number_of_allocations=8)
    assert "(caused by illegal_state_exception: " in str(caught.value)
    assert caught.value.retry_after == 30.0
    assert caught.value.temporary


async def test_start_transport_failure(fake: FakeES, es: ElasticsearchClient) -> None:
    def reset(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    fake.route("POST", START, reset)
    with pytest.raises(e.ConnectionFailedError) as caught:
        await es.start_deployment("my-model", version=V["9.1.4"])
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert "_start of model [my-model]" in str(caught.value)
