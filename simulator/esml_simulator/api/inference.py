"""REST handlers of the inference API: ``PUT``/``GET``/``DELETE``/``POST`` ``_inference/...`` and ``_update``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esml_simulator.errors import parse_exception, status_exception
from esml_simulator.ml.inference.infer import infer, parse_infer_body
from esml_simulator.ml.inference.ops import delete_endpoint, get_endpoints, put_endpoint
from esml_simulator.ml.inference.settings import parse_task_type
from esml_simulator.ml.inference.update import parse_update_body, update_endpoint
from esml_simulator.rest.request import Action, RestRequest, Result
from esml_simulator.security.privileges import (
    ACTION_INFERENCE_DELETE,
    ACTION_INFERENCE_GET,
    ACTION_INFERENCE_INFER,
    ACTION_INFERENCE_PUT,
    ACTION_INFERENCE_UPDATE,
)
from esml_simulator.units import TimeValue

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine

PUT_PARSER = "inference_endpoint"
DEFAULT_TIMEOUT = TimeValue(30.0)


def _task_type(req: RestRequest) -> str | None:
    raw = req.path_params.get("task_type")
    return None if raw is None else parse_task_type(raw)


def _required_object(req: RestRequest) -> dict[str, Any]:
    if not req.has_content:
        raise parse_exception("request body is required")
    return req.json_object(PUT_PARSER)


def _elser_warning(engine: Engine, body: dict[str, Any]) -> dict[str, str]:
    if body.get("service") != "elser" or not engine.version.has_inference_endpoints_816:
        return {}
    v = engine.version
    text = (
        "The [elser] service is deprecated and will be removed in a future release. Use the [elasticsearch] "
        "service instead, with [model_id] set to [.elser_model_2] in the [service_settings]"
    )
    return {"Warning": f'299 Elasticsearch-{v}-{v.build_hash} "{text}"'}


def prepare_put(engine: Engine, req: RestRequest) -> Action:
    inference_id = req.path_params["inference_id"]
    task_type = _task_type(req)
    timeout = DEFAULT_TIMEOUT
    if engine.version.inference_put_timeout:
        timeout = req.query.time("timeout") or DEFAULT_TIMEOUT
    body = _required_object(req)

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_INFERENCE_PUT)
        out = await put_endpoint(engine, inference_id, task_type, body, timeout)
        req.response_headers.update(_elser_warning(engine, body))
        return 200, out

    return action


def prepare_get(engine: Engine, req: RestRequest) -> Action:
    inference_id = req.path_params.get("inference_id")
    task_type = _task_type(req)

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_INFERENCE_GET)
        return 200, get_endpoints(engine, inference_id, task_type)

    return action


def prepare_delete(engine: Engine, req: RestRequest) -> Action:
    inference_id = req.path_params["inference_id"]
    task_type = _task_type(req)
    force = dry_run = False
    if engine.version.inference_delete_flags:
        force = req.query.bool("force", False)
        dry_run = req.query.bool("dry_run", False)

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_INFERENCE_DELETE)
        return 200, await delete_endpoint(engine, inference_id, task_type, force, dry_run)

    return action


def prepare_update(engine: Engine, req: RestRequest) -> Action:
    if "task_type" not in req.path_params:
        raise status_exception(400, "Inference ID must be provided in the path")
    inference_id = req.path_params["inference_id"]
    task_type = parse_task_type(req.path_params["task_type"])
    if not req.has_content:
        raise parse_exception("request body is required")
    req.body_consumed = True
    raw = req.body.decode("utf-8", "replace")
    body = req.json_body()

    async def action() -> Result:
        parsed = parse_update_body(body, raw)
        engine.authorize(req.principal, ACTION_INFERENCE_UPDATE)
        return 200, await update_endpoint(engine, inference_id, task_type, parsed)

    return action


def prepare_infer(engine: Engine, req: RestRequest) -> Action:
    inference_id = req.path_params["inference_id"]
    task_type = _task_type(req)
    timeout = req.query.time("timeout") or DEFAULT_TIMEOUT
    body = _required_object(req)

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_INFERENCE_INFER)
        endpoint_type = task_type or getattr(engine.cluster.inference.get(inference_id), "task_type", None)
        inputs, _query = parse_infer_body(body, endpoint_type)
        return 200, await infer(engine, inference_id, task_type, inputs, timeout)

    return action
