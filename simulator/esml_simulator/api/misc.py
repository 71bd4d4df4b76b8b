"""REST handlers: cluster info, security (API keys, authenticate) and minimal ingest pipelines."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from esml_simulator.errors import EsError, not_found
from esml_simulator.rest.params import check_body_fields
from esml_simulator.rest.request import Action, RestRequest, Result
from esml_simulator.security.privileges import (
    ACTION_CREATE_API_KEY,
    ACTION_DELETE_PIPELINE,
    ACTION_GET_PIPELINE,
    ACTION_MAIN,
    ACTION_PUT_PIPELINE,
)

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine


def prepare_info(engine: Engine, req: RestRequest) -> Action:
    async def action() -> Result:
        engine.authorize(req.principal, ACTION_MAIN)
        if req.method == "HEAD":
            return 200, None
        v = engine.version
        return 200, {
            "name": engine.config.node_name,
            "cluster_name": engine.config.cluster_name,
            "cluster_uuid": engine.cluster_uuid,
            "version": {
                "number": str(v),
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": v.build_hash,
                "build_date": "2025-01-01T00:00:00.000000000Z",
                "build_snapshot": False,
                "lucene_version": v.lucene_version,
                "minimum_wire_compatibility_version": v.min_wire,
                "minimum_index_compatibility_version": v.min_index,
            },
            "tagline": "You Know, for Search",
        }

    return action


def _security_disabled() -> EsError:
    return EsError(
        500,
        "exception",
        "Security must be explicitly enabled when using a [basic] license. Enable security by setting "
        "[xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.",
    )


def prepare_create_api_key(engine: Engine, req: RestRequest) -> Action:
    req.query.string("refresh")
    body = req.json_object("api_key_request") if req.has_content else {}
    check_body_fields("api_key_request", body, ("name", "expiration", "role_descriptors", "metadata", "type"))

    async def action() -> Result:
        if req.principal is None:
            raise _security_disabled()
        engine.authorize(req.principal, ACTION_CREATE_API_KEY)
        key = engine.security.create_api_key(req.principal, body, int(engine.clock.now() * 1000))
        encoded = base64.b64encode(f"{key.id}:{key.key}".encode()).decode()
        out: dict[str, Any] = {"id": key.id, "name": key.name}
        if body.get("expiration"):
            out["expiration"] = key.created_ms + 7 * 86400 * 1000
        out.update({"api_key": key.key, "encoded": encoded})
        return 200, out

    return action


def prepare_authenticate(engine: Engine, req: RestRequest) -> Action:
    async def action() -> Result:
        if req.principal is None:
            raise _security_disabled()
        return 200, engine.security.authenticate_response(req.principal)

    return action


def prepare_put_pipeline(engine: Engine, req: RestRequest) -> Action:
    pipeline_id = req.path_params["id"]
    req.query.time("timeout")
    req.query.time("master_timeout")
    req.query.int("if_version")
    body = req.json_object("pipeline")

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_PUT_PIPELINE)
        engine.cluster.pipelines[pipeline_id] = body
        return 200, {"acknowledged": True}

    return action


def prepare_get_pipeline(engine: Engine, req: RestRequest) -> Action:
    pipeline_id = req.path_params.get("id")
    req.query.time("master_timeout")
    req.query.bool("summary", False)

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_GET_PIPELINE)
        pipelines = engine.cluster.pipelines
        if pipeline_id is None:
            return 200, dict(pipelines)
        if pipeline_id not in pipelines:
            return 404, {}
        return 200, {pipeline_id: pipelines[pipeline_id]}

    return action


def prepare_delete_pipeline(engine: Engine, req: RestRequest) -> Action:
    pipeline_id = req.path_params["id"]
    req.query.time("timeout")
    req.query.time("master_timeout")

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_DELETE_PIPELINE)
        if engine.cluster.pipelines.pop(pipeline_id, None) is None:
            raise not_found(f"pipeline [{pipeline_id}] is missing")
        return 200, {"acknowledged": True}

    return action
