"""``POST _inference/{task_type}/{inference_id}``: perform inference (deterministic fake results).

What matters to the simulator is the side effect: a default endpoint's
deployment starts on first use (adaptive 0..32), an adaptive deployment at
zero allocations scales up to one, and every input counts in the deployment's
inference statistics. A call that finds every node's queue full (under the
traffic of ``/_sim/.../_load``) is refused with 429 as ``queueing`` describes.
Texts of the errors marked below are simulator choices.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from . import queueing
from .errors import EsError, not_found, status_exception, validation_failed
from .inference import InferenceEndpoint
from .inference_ops import lookup, start_endpoint_deployment
from .state import Deployment
from .units import TimeValue

if TYPE_CHECKING:
    from .engine import Engine

EMBEDDING_DIMENSIONS = 384


def parse_infer_body(body: dict[str, Any], task_type: str | None) -> tuple[list[str], str | None]:
    raw = body.get("input")
    inputs = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    errors = [] if inputs else ["Field [input] cannot be empty"]
    query = body.get("query")
    if task_type == "rerank" and query is None:
        errors.append("Field [query] cannot be null for task type [rerank]")
    if errors:
        raise validation_failed(errors)
    return [str(i) for i in inputs], None if query is None else str(query)


async def infer(
    engine: Engine, inference_id: str, path_task_type: str | None, inputs: list[str], max_wait: TimeValue
) -> dict[str, Any]:
    cluster = engine.cluster
    cluster.advance()
    endpoint = lookup(cluster, inference_id, None)
    if path_task_type is not None and path_task_type != endpoint.task_type:
        raise status_exception(
            400,
            f"Incompatible task_type, the requested type [{path_task_type}] does not match the model type "
            f"[{endpoint.task_type}]",
        )
    dep = await _ready_deployment(engine, endpoint, max_wait)
    if not queueing.admit(dep):
        raise EsError(429, "es_rejected_execution_exception", queueing.QUEUE_FULL)
    now = engine.clock.now()
    dep.load.accumulated += len(inputs)
    dep.load.last_request_at = now
    return {endpoint.task_type: [_result(endpoint.task_type, text, i) for i, text in enumerate(inputs)]}


async def _ready_deployment(engine: Engine, endpoint: InferenceEndpoint, max_wait: TimeValue) -> Deployment:
    cluster = engine.cluster
    dep_id = endpoint.ml_deployment_id
    dep = cluster.deployments.get(dep_id)
    if dep is None and endpoint.default:
        await start_endpoint_deployment(engine, endpoint, max_wait)  # default endpoints deploy on first use
        dep = cluster.deployments.get(dep_id)
    if dep is None:
        raise not_found(f"Could not find trained model [{dep_id}]")  # text: simulator choice
    if dep.allocation_count == 0 and dep.adaptive_enabled and dep.number_of_allocations == 0:
        cluster.set_allocations(dep, 1)  # scale from zero, as the adaptive scaler does on a request
    deadline = engine.clock.now() + max_wait.seconds
    while dep.allocation_count == 0:
        upcoming = cluster.next_event_time()
        if engine.clock.now() >= deadline or upcoming is None or dep.state == "stopping":
            raise status_exception(409, f"Trained model deployment [{dep_id}] is not allocated to any nodes")
        await engine.wait_until(min(upcoming, deadline))
        cluster.advance()
        if cluster.deployments.get(dep_id) is not dep:
            raise EsError(404, "resource_not_found_exception", f"Could not find trained model [{dep_id}]")
    return dep


def _seed(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _result(task_type: str, text: str, index: int) -> dict[str, Any]:
    digest = _seed(text)
    if task_type == "sparse_embedding":
        tokens = sorted({w.lower() for w in text.split()} or {"empty"})
        return {
            "is_truncated": False,
            "embedding": {t: round(0.1 + (_seed(t)[0] / 255.0) * 2.0, 4) for t in tokens},
        }
    if task_type == "text_embedding":
        values = [(digest[i % len(digest)] - 128) / 128.0 for i in range(EMBEDDING_DIMENSIONS)]
        return {"embedding": values}
    return {"index": index, "relevance_score": round(digest[0] / 255.0, 6)}
