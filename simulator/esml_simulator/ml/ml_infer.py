"""``_infer`` on a trained-model deployment: find the deployment, count the call, answer from the cache.

The id may name a deployment, a model (one of its deployments answers: the
one whose id is the model id first) or a model alias. Every document counts
in the deployment's ``inference_count`` and feeds the same per-node traffic
as ``/_sim/.../_load`` (``queueing``): a call that finds every queue full is
refused with 429. With a cache (``cache_size`` above 0; unset means the
model's size), an input seen before is a cache hit: it still counts as an
inference and also in ``inference_cache_hit_count``. Results are
deterministic fakes shaped like the model's task. Texts marked below are
simulator choices.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from esml_simulator.errors import EsError, no_model, status_exception
from esml_simulator.ml import calls, queueing
from esml_simulator.ml.builtin_models import config_name
from esml_simulator.ml.state import Deployment
from esml_simulator.units import TimeValue

if TYPE_CHECKING:
    from esml_simulator.ml.cluster import MlCluster
    from esml_simulator.ml.engine import Engine


def find_deployment(cluster: MlCluster, model_or_deployment: str) -> Deployment:
    dep = cluster.deployments.get(model_or_deployment)
    if dep is not None:
        return dep
    model_id = cluster.models.resolve(model_or_deployment)
    if cluster.models.get(model_id) is None:
        raise no_model(model_or_deployment)
    deps = sorted((d for d in cluster.deployments.values() if d.model_id == model_id), key=lambda d: d.deployment_id)
    deps.sort(key=lambda d: d.deployment_id != model_id)
    if not deps:
        raise status_exception(
            409,
            f"Model [{model_id}] must be deployed to use. Please deploy with the start trained model deployment API.",
        )
    return deps[0]


async def await_allocated(engine: Engine, dep: Deployment, max_wait: TimeValue) -> None:
    """Wait (on the simulated clock) until the deployment has an allocation; adaptive ones scale up from zero."""
    cluster = engine.cluster
    dep_id = dep.deployment_id
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


def record(engine: Engine, dep: Deployment, texts: list[str]) -> None:
    """Count the inputs on the deployment's traffic (429 when every node's queue is full); cache hits too."""
    now = engine.clock.now()
    if not queueing.admit(dep) or not calls.place(dep, now, len(texts)):
        raise EsError(429, "es_rejected_execution_exception", queueing.QUEUE_FULL)
    load = dep.load
    load.accumulated += len(texts)
    load.last_request_at = now
    if dep.cache_size.bytes <= 0:
        return
    for text in texts:
        if text in load.cached:
            load.cache_hits += 1
        else:
            load.cached.append(text)


def clear_cache(dep: Deployment) -> None:
    dep.load.cached.clear()


def _doc_text(doc: Any, field_names: list[str]) -> str:
    if isinstance(doc, dict):
        for name in field_names:
            if name in doc:
                return str(doc[name])
        strings = [v for v in doc.values() if isinstance(v, str)]
        return strings[0] if strings else ""
    return str(doc)


def texts_of(engine: Engine, dep: Deployment, docs: list[Any]) -> list[str]:
    model = engine.cluster.models.get(dep.model_id)
    fields = (model.config.get("input") or {}).get("field_names", []) if model else []
    return [_doc_text(doc, list(fields) or ["text_field"]) for doc in docs]


def result(engine: Engine, dep: Deployment, text: str) -> dict[str, Any]:
    """A fake result shaped like the model's task (values depend only on the input)."""
    model = engine.cluster.models.get(dep.model_id)
    task = config_name(model) if model else "pass_through"
    digest = hashlib.sha256(text.encode()).digest()
    if task == "ner":
        return {"predicted_value": text, "entities": []}
    if task == "fill_mask":
        return {"predicted_value": text, "token": "simulated", "token_id": digest[0]}
    if task == "text_expansion":
        return {"predicted_value": {w.lower(): round(digest[0] / 255.0 + 0.1, 4) for w in text.split() or ["empty"]}}
    if task in ("text_classification", "zero_shot_classification"):
        return {"predicted_value": "simulated", "prediction_probability": round(digest[0] / 255.0, 6)}
    vector = [round((b - 128) / 128.0, 6) for b in digest[:8]]
    return {"predicted_value": [vector] if task == "pass_through" else vector}
