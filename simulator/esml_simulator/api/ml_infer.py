"""REST handlers: ``POST _ml/trained_models/{id}/_infer``, the deprecated ``.../deployment/_infer`` and
``POST _ml/trained_models/{deployment_id}/deployment/cache/_clear``.

From 8.3 ``_infer`` takes any number of documents and answers
``{"inference_results": [...]}``; ``deployment/_infer`` takes one document,
answers the bare result and carries a deprecation ``Warning`` (before 8.3 it
was the only route, without the warning).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esml_simulator.errors import no_deployment, status_exception, validation_failed
from esml_simulator.ml import ml_infer
from esml_simulator.rest.params import check_body_fields
from esml_simulator.rest.request import Action, RestRequest, Result
from esml_simulator.security.privileges import ACTION_CLEAR_CACHE, ACTION_INFER_MODEL
from esml_simulator.units import TimeValue

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine

INFER_PARSER = "infer_trained_model_request"
DEFAULT_TIMEOUT = TimeValue(10.0)
NEW_PATH = "/_ml/trained_models/{model_id}/_infer"
OLD_PATH = "/_ml/trained_models/{model_id}/deployment/_infer"


def _deprecation(engine: Engine) -> dict[str, str]:
    v = engine.version
    text = f"[POST {OLD_PATH}] is deprecated! Use [POST {NEW_PATH}] instead."
    return {"Warning": f'299 Elasticsearch-{v}-{v.build_hash} "{text}"'}


def _docs(req: RestRequest) -> tuple[list[Any], TimeValue]:
    if not req.has_content:
        raise status_exception(400, "requires body")
    body = req.json_object(INFER_PARSER)
    check_body_fields(INFER_PARSER, body, ("docs", "inference_config"))
    docs = body.get("docs")
    if not isinstance(docs, list) or not docs:
        raise validation_failed(["at least one document is required"])  # text: simulator choice
    return docs, req.query.time("timeout") or DEFAULT_TIMEOUT


def _prepare(engine: Engine, req: RestRequest, deprecated: bool) -> Action:
    target = req.path_params["model_id"]
    if deprecated and engine.version.has_infer_api:
        req.response_headers.update(_deprecation(engine))  # also on an error, as Elasticsearch's route does
    docs, timeout = _docs(req)
    if deprecated and engine.version.has_infer_api and len(docs) > 1:
        raise validation_failed(["multiple documents are not supported"], "validation_exception")

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_INFER_MODEL)
        cluster = engine.cluster
        cluster.advance()
        dep = ml_infer.find_deployment(cluster, target)
        await ml_infer.await_allocated(engine, dep, timeout)
        texts = ml_infer.texts_of(engine, dep, docs)
        ml_infer.record(engine, dep, texts)
        results = [ml_infer.result(engine, dep, text) for text in texts]
        if deprecated:
            return 200, results[0]
        return 200, {"inference_results": results}

    return action


def prepare_infer(engine: Engine, req: RestRequest) -> Action:
    return _prepare(engine, req, deprecated=False)


def prepare_deployment_infer(engine: Engine, req: RestRequest) -> Action:
    return _prepare(engine, req, deprecated=True)


def prepare_clear_cache(engine: Engine, req: RestRequest) -> Action:
    deployment_id = req.path_params["model_id"]

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_CLEAR_CACHE)
        dep = engine.cluster.deployments.get(deployment_id)
        if dep is None:
            raise no_deployment(deployment_id)
        ml_infer.clear_cache(dep)
        return 200, {"cleared": True}

    return action
