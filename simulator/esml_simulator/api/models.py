"""REST handlers: create and delete models, upload definition parts and vocabularies."""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from esml_simulator.errors import EsError, no_model, status_exception, validation_failed
from esml_simulator.ml import downloads, nlp_config
from esml_simulator.ml.models import LANG_IDENT, TrainedModel, validate_model_id
from esml_simulator.rest.params import check_body_fields
from esml_simulator.rest.request import Action, RestRequest, Result
from esml_simulator.security.privileges import (
    ACTION_DELETE_MODEL,
    ACTION_PUT_DEFINITION,
    ACTION_PUT_MODEL,
    ACTION_PUT_VOCABULARY,
)
from esml_simulator.units import json_int, parse_int_param

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine

PUT_FIELDS = (
    "model_id",
    "model_type",
    "inference_config",
    "input",
    "description",
    "tags",
    "metadata",
    "definition",
    "compressed_definition",
    "model_size_bytes",
    "estimated_operations",
    "platform_architecture",
    "prefix_strings",
    "location",
    "model_package",
    "estimated_heap_memory_usage_bytes",
    "per_deployment_memory_bytes",
    "per_allocation_memory_bytes",
)


def prepare_put_model(engine: Engine, req: RestRequest) -> Action:
    model_id = req.path_params["model_id"]
    req.query.bool("defer_definition_decompression", False)
    wait = req.query.bool("wait_for_completion", False)
    body = req.json_object("trained_model_config")
    check_body_fields("trained_model_config", body, PUT_FIELDS)

    async def action() -> Result:
        if downloads.is_package_put(model_id, body):
            return await _put_package(engine, req, model_id, body, wait)
        validate_model_id(model_id)
        errors = []
        model_type = body.get("model_type")
        if model_type is None and "definition" not in body and "compressed_definition" not in body:
            errors.append("[model_type] must be set if [definition] is not defined.")
        if "inference_config" not in body:
            errors.append("[inference_config] must not be null.")
        if errors:
            raise validation_failed(errors)
        engine.authorize(req.principal, ACTION_PUT_MODEL)
        cluster = engine.cluster
        if cluster.models.get(model_id) is not None:
            raise EsError(
                400, "resource_already_exists_exception", f"Trained machine learning model [{model_id}] already exists"
            )
        if model_id in cluster.deployments:
            raise status_exception(
                400, f"Cannot create model [{model_id}] the id is the same as an current model deployment"
            )
        config = {
            k: v for k, v in body.items() if k not in ("model_id", "model_type", "definition", "compressed_definition")
        }
        if engine.version.has_fill_mask_token:
            config["inference_config"] = nlp_config.with_defaults(config["inference_config"])
        model = TrainedModel(model_id, str(model_type or "tree_ensemble"), config, int(cluster.clock.now() * 1000))
        cluster.models.add(model)
        return 200, model.render(str(engine.version), set())

    return action


async def _put_package(engine: Engine, req: RestRequest, model_id: str, body: dict[str, Any], wait: bool) -> Result:
    """An Elastic-provided model: create it and start its download (see ``downloads``)."""
    engine.authorize(req.principal, ACTION_PUT_MODEL)
    cluster = engine.cluster
    if cluster.models.get(model_id) is not None:
        raise EsError(
            400, "resource_already_exists_exception", f"Trained machine learning model [{model_id}] already exists"
        )
    model = downloads.start_download(model_id, body, cluster.clock.now())
    cluster.models.add(model)
    if wait:
        await engine.wait_until(downloads.done_at(model))
        cluster.advance()
    return 200, model.render(str(engine.version), set())


def prepare_delete_model(engine: Engine, req: RestRequest) -> Action:
    model_id = req.path_params["model_id"]
    force = req.query.bool("force", False)
    req.query.time("timeout")

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_DELETE_MODEL)
        cluster = engine.cluster
        cluster.advance()
        model = cluster.models.get(model_id)
        if model is None:
            raise no_model(model_id)
        if model_id == LANG_IDENT:
            raise status_exception(400, f"Unable to delete model [{model_id}]")
        deps = [d for d in cluster.deployments.values() if d.model_id == model_id]
        if not force:
            if cluster.pipeline_refs({model_id}):
                raise status_exception(
                    409,
                    f"Cannot delete model [{model_id}] as it is still referenced by ingest processors; use "
                    "force to delete the model",
                )
            if deps:
                raise status_exception(
                    409, f"Cannot delete model [{model_id}] as it is currently deployed; use force to delete the model"
                )
        for dep in deps:
            del cluster.deployments[dep.deployment_id]
        del cluster.models.models[model_id]
        for alias in [a for a, target in cluster.models.aliases.items() if target == model_id]:
            del cluster.models.aliases[alias]  # Elasticsearch deletes a model's aliases with it
        cluster.rebalance()
        return 200, {"acknowledged": True}

    return action


def prepare_put_definition(engine: Engine, req: RestRequest) -> Action:
    model_id = req.path_params["model_id"]
    part = parse_int_param("part", req.path_params["part"])
    body = req.json_object("put_trained_model_definition_part_action")
    parser = "put_trained_model_definition_part_action"
    check_body_fields(parser, body, ("definition", "total_definition_length", "total_parts"))
    raw: Any = body.get("definition")
    total_len = (
        json_int(parser, "total_definition_length", body["total_definition_length"])
        if body.get("total_definition_length") is not None
        else None
    )
    total_parts = json_int(parser, "total_parts", body["total_parts"]) if body.get("total_parts") is not None else None

    async def action() -> Result:
        errors = []
        if raw is None:
            errors.append("[definition] must not be null.")
        if part < 0:
            errors.append("[part] must be greater or equal to 0")
        if total_len is None or total_len <= 0:
            errors.append("[total_definition_length] must be greater than 0")
        if total_parts is None or total_parts <= 0:
            errors.append("[total_parts] must be greater than 0")
        elif part >= total_parts:
            errors.append("[part] must be less than total_parts")
        if errors:
            raise validation_failed(errors)
        engine.authorize(req.principal, ACTION_PUT_DEFINITION)
        model = engine.cluster.models.get(model_id)
        if model is None:
            raise no_model(model_id)
        if model.model_type != "pytorch":
            raise status_exception(400, f"Trained model [{model_id}] is not a pytorch model")
        try:
            length = len(base64.b64decode(str(raw), validate=True))
        except (binascii.Error, ValueError):
            raise EsError(
                400, "x_content_parse_exception", f"[1:2] [{parser}] failed to parse field [definition]"
            ) from None
        if part in model.parts:
            raise status_exception(409, f"Trained model definition part [{part}] for model [{model_id}] already exists")
        model.parts[part] = length
        model.total_parts = total_parts
        model.total_definition_length = total_len
        return 200, {"acknowledged": True}

    return action


def prepare_put_vocabulary(engine: Engine, req: RestRequest) -> Action:
    model_id = req.path_params["model_id"]
    parser = "put_trained_model_vocabulary_action"
    body = req.json_object(parser)
    check_body_fields(parser, body, ("vocabulary", "merges", "scores"))

    async def action() -> Result:
        if not isinstance(body.get("vocabulary"), list):
            raise validation_failed(["[vocabulary] must not be null."])
        engine.authorize(req.principal, ACTION_PUT_VOCABULARY)
        model = engine.cluster.models.get(model_id)
        if model is None:
            raise no_model(model_id)
        if model.model_type != "pytorch":
            raise status_exception(400, f"cannot put vocabulary for model [{model_id}] as it is not pytorch")
        model.has_vocabulary = True
        return 200, {"acknowledged": True}

    return action
