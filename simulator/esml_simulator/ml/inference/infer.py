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

from esml_simulator.errors import not_found, status_exception, validation_failed
from esml_simulator.ml.inference.endpoints import InferenceEndpoint
from esml_simulator.ml.inference.ops import lookup, start_endpoint_deployment
from esml_simulator.ml.ml_infer import await_allocated, record
from esml_simulator.ml.state import Deployment
from esml_simulator.units import TimeValue

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine

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
    record(engine, dep, inputs)
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
    await await_allocated(engine, dep, max_wait)
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
