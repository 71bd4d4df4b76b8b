"""REST handlers: ``_start``, ``_update`` and ``_stop`` (parsing as the REST classes do it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esml_simulator.errors import EsError, illegal_argument, inconsistent_id, parse_exception
from esml_simulator.ml import render
from esml_simulator.ml.deploy_ops import ABSENT, AdaptiveUpdate, StartParams, start_checks, validate_update
from esml_simulator.ml.deploy_start import validate_start, wait_for_start
from esml_simulator.ml.state import AdaptiveSettings
from esml_simulator.rest.params import check_body_fields
from esml_simulator.rest.request import Action, RestRequest, Result
from esml_simulator.security.privileges import ACTION_START, ACTION_STOP, ACTION_UPDATE
from esml_simulator.units import json_bool, json_int, json_str, parse_byte_size, parse_time

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine

START_PARSER = "start_trained_model_deployment"
ADAPTIVE_PARSER = "adaptive_allocations_settings"
DEFAULT_TIMEOUT = "30s"


def _enum(value: str, options: tuple[str, ...], java_class: str) -> str:
    lowered = value.strip().lower()
    if lowered not in options:
        raise illegal_argument(f"No enum constant {java_class}.{value.strip().upper()}")
    return lowered


def _wait_for(value: str) -> str:
    return _enum(
        value,
        ("starting", "started", "fully_allocated"),
        "org.elasticsearch.xpack.core.ml.inference.assignment.AllocationStatus.State",
    )


def _priority(value: str) -> str:
    return _enum(value, ("normal", "low"), "org.elasticsearch.xpack.core.ml.inference.assignment.Priority")


def parse_adaptive(raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise EsError(400, "x_content_parse_exception", f"[1:2] [{ADAPTIVE_PARSER}] Expected START_OBJECT")
    check_body_fields(ADAPTIVE_PARSER, raw, ("enabled", "min_number_of_allocations", "max_number_of_allocations"))
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            out[key] = None
        elif key == "enabled":
            out[key] = json_bool(ADAPTIVE_PARSER, key, value)
        else:
            out[key] = json_int(ADAPTIVE_PARSER, key, value)
    return out


def _start_body_fields(engine: Engine, compat_major: int) -> list[str]:
    v = engine.version
    fields = ["model_id", "timeout", "wait_for", "queue_capacity", "model_threads", "inference_threads"]
    if v.new_thread_names:
        fields += ["threads_per_allocation", "number_of_allocations"]
    if v.route_allocations:
        fields.append("cache_size")
    if v.has_priority:
        fields.append("priority")
    if v.has_deployment_id:
        fields.append("deployment_id")
    if v.has_adaptive:
        fields.append("adaptive_allocations")
    return fields


def prepare_start(engine: Engine, req: RestRequest) -> Action:
    v = engine.version
    model_id = req.path_params["model_id"]
    q = req.query
    values: dict[str, Any] = {}
    if req.has_content:
        body = req.json_object(START_PARSER)
        check_body_fields(START_PARSER, body, _start_body_fields(engine, req.compat_major))
        for key, raw in body.items():
            if key in ("number_of_allocations", "threads_per_allocation", "queue_capacity"):
                values[key] = json_int(START_PARSER, key, raw)
            elif key == "model_threads":
                values["number_of_allocations"] = json_int(START_PARSER, key, raw)
            elif key == "inference_threads":
                values["threads_per_allocation"] = json_int(START_PARSER, key, raw)
            elif key == "timeout":
                values[key] = parse_time(json_str(START_PARSER, key, raw), key)
            elif key == "wait_for":
                values[key] = _wait_for(json_str(START_PARSER, key, raw))
            elif key == "priority":
                values[key] = _priority(json_str(START_PARSER, key, raw))
            elif key == "cache_size":
                values[key] = parse_byte_size(json_str(START_PARSER, key, raw), key)
            elif key == "adaptive_allocations":
                values[key] = parse_adaptive(raw)
            elif key == "model_id":
                body_id = json_str(START_PARSER, key, raw)
                if body_id != model_id:
                    raise inconsistent_id("model_id", body_id, model_id, "status_exception")
    deployment_id = model_id
    if v.has_deployment_id:
        deployment_id = q.string("deployment_id", model_id) or model_id
    if not req.has_content or v.start_query_overrides_body:
        _read_start_query(engine, req, values)
    params = _start_params(engine, model_id, deployment_id, values)

    async def action() -> Result:
        validate_start(engine.version, params, "number_of_allocations" in values)
        engine.authorize(req.principal, ACTION_START)
        engine.cluster.advance()
        dep = start_checks(engine.cluster, params)
        await wait_for_start(engine, dep.deployment_id, params)
        return 200, render.assignment(engine.cluster.deployments[dep.deployment_id], engine.version)

    return action


def _read_start_query(engine: Engine, req: RestRequest, values: dict[str, Any]) -> None:
    v, q = engine.version, req.query
    legacy = not v.new_thread_names or v.major < 9 or req.compat_major == 8
    names = [("number_of_allocations", "number_of_allocations"), ("threads_per_allocation", "threads_per_allocation")]
    if not v.new_thread_names:
        names = []
    if legacy:
        names += [("model_threads", "number_of_allocations"), ("inference_threads", "threads_per_allocation")]
    names.append(("queue_capacity", "queue_capacity"))
    for param, field in names:
        value = q.int(param)
        if value is not None:
            values[field] = value
    timeout = q.time("timeout")
    if timeout is not None:
        values["timeout"] = timeout
    wait_for = q.string("wait_for")
    if wait_for is not None:
        values["wait_for"] = _wait_for(wait_for)
    if v.route_allocations:
        cache = q.byte_size("cache_size")
        if cache is not None:
            values["cache_size"] = cache
    if v.has_priority:
        priority = q.string("priority")
        if priority is not None:
            values["priority"] = _priority(priority)


def _start_params(engine: Engine, model_id: str, deployment_id: str, values: dict[str, Any]) -> StartParams:
    raw_adaptive = values.get("adaptive_allocations")
    adaptive = None
    if raw_adaptive is not None:
        adaptive = AdaptiveSettings(
            raw_adaptive.get("enabled"),
            raw_adaptive.get("min_number_of_allocations"),
            raw_adaptive.get("max_number_of_allocations"),
        )
    return StartParams(
        model_id=model_id,
        deployment_id=deployment_id,
        number_of_allocations=values.get("number_of_allocations"),
        threads=values.get("threads_per_allocation", 1),
        queue_capacity=values.get("queue_capacity", engine.version.queue_default),
        cache_size=values.get("cache_size"),
        priority=values.get("priority", "normal"),
        wait_for=values.get("wait_for", "started"),
        timeout=values.get("timeout", parse_time(DEFAULT_TIMEOUT, "timeout")),
        adaptive=adaptive,
    )


UPDATE_PARSER = "update_trained_model_deployment_request"


def prepare_update(engine: Engine, req: RestRequest) -> Action:
    v, q = engine.version, req.query
    deployment_id = req.path_params["model_id"]
    q.time("timeout")
    q.time("master_timeout")
    number: int | None = None
    adaptive: AdaptiveUpdate = ABSENT
    query_number = q.int("number_of_allocations") if v.update_query_param else None
    if query_number is not None:
        number = query_number
    else:
        if not req.has_content:
            raise parse_exception("request body is required")
        body = req.json_object(UPDATE_PARSER)
        fields = ["number_of_allocations", "model_id", "timeout"] + (["adaptive_allocations"] if v.has_adaptive else [])
        check_body_fields(UPDATE_PARSER, body, fields)
        if "number_of_allocations" in body and body["number_of_allocations"] is not None:
            number = json_int(UPDATE_PARSER, "number_of_allocations", body["number_of_allocations"])
        if "adaptive_allocations" in body:
            adaptive = parse_adaptive(body["adaptive_allocations"])
        if "timeout" in body:
            parse_time(json_str(UPDATE_PARSER, "timeout", body["timeout"]), "timeout")
        if "model_id" in body:
            body_id = json_str(UPDATE_PARSER, "model_id", body["model_id"])
            if body_id != deployment_id:
                raise inconsistent_id("model_id", body_id, deployment_id, "status_exception")

    async def action() -> Result:
        validate_update(number, adaptive)
        engine.authorize(req.principal, ACTION_UPDATE)
        return 200, engine.update(deployment_id, number, adaptive)

    return action


STOP_PARSER = "stop_trained_model_deployment_request"


def prepare_stop(engine: Engine, req: RestRequest) -> Action:
    v, q = engine.version, req.query
    deployment_id = req.path_params["model_id"]
    allow_no_match, force = True, False
    if req.has_content:
        body = req.json_object(STOP_PARSER)
        fields = ["model_id", "allow_no_match", "force"]
        if v.has_finish_pending_work:
            fields.append("finish_pending_work")
        check_body_fields(STOP_PARSER, body, fields)
        if "model_id" in body:
            body_id = json_str(STOP_PARSER, "model_id", body["model_id"])
            if body_id != deployment_id:
                raise inconsistent_id("model_id", body_id, deployment_id, "illegal_argument_exception")
        if "allow_no_match" in body:
            allow_no_match = json_bool(STOP_PARSER, "allow_no_match", body["allow_no_match"])
        if "force" in body:
            force = json_bool(STOP_PARSER, "force", body["force"])
        if "finish_pending_work" in body:
            json_bool(STOP_PARSER, "finish_pending_work", body["finish_pending_work"])
    else:
        allow_no_match = q.bool("allow_no_match", True)
        force = q.bool("force", False)
        if v.has_finish_pending_work:
            q.bool("finish_pending_work", False)

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_STOP)
        await engine.stop(deployment_id, allow_no_match, force)
        return 200, {"stopped": True}

    return action
