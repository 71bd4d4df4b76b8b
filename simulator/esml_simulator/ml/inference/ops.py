"""The inference endpoint transport actions: create, read and delete ("Create", "Get", "Delete inference API")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esml_simulator.errors import EsError, illegal_argument, not_found, status_exception
from esml_simulator.ml.builtin_models import CONFIG_OF_TASK, builtin_model, config_name, is_builtin
from esml_simulator.ml.cluster import MlCluster
from esml_simulator.ml.deploy_ops import StartParams, start_checks
from esml_simulator.ml.deploy_start import validate_start, wait_for_start
from esml_simulator.ml.inference.endpoints import IN_CLUSTER_SERVICES, InferenceEndpoint
from esml_simulator.ml.inference.settings import EndpointSpec, check_service, parse_put, resolve_task_type
from esml_simulator.ml.models import MODEL_ID_PATTERN, TrainedModel
from esml_simulator.ml.state import AdaptiveSettings
from esml_simulator.units import TimeValue
from esml_simulator.versions import EsVersion

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine


def endpoint_not_found(inference_id: str, version: EsVersion) -> EsError:
    if not version.inference_endpoint_naming:
        return not_found(f"Model not found [{inference_id}]")
    return not_found(f"Inference endpoint not found [{inference_id}]")


def lookup(cluster: MlCluster, inference_id: str, task_type: str | None) -> InferenceEndpoint:
    endpoint = cluster.inference.get(inference_id)
    if endpoint is None:
        raise endpoint_not_found(inference_id, cluster.version)
    if task_type is not None and endpoint.task_type != task_type:
        raise status_exception(
            400,
            f"Requested task type [{task_type}] does not match the inference endpoint's task type "
            f"[{endpoint.task_type}]",
        )
    return endpoint


def render_live(engine: Engine, endpoint: InferenceEndpoint) -> dict[str, Any]:
    """GET substitutes the deployment's current ``number_of_allocations`` (8.16+); PUT and ``_update`` do not."""
    live = None
    if engine.version.has_inference_endpoints_816 and endpoint.service in IN_CLUSTER_SERVICES:
        dep = engine.cluster.deployments.get(endpoint.ml_deployment_id)
        live = None if dep is None else dep.number_of_allocations
    return endpoint.render(engine.version, live)


def get_endpoints(engine: Engine, inference_id: str | None, task_type: str | None) -> dict[str, Any]:
    cluster = engine.cluster
    cluster.advance()
    if inference_id is None or inference_id in ("_all", "*"):
        found = [e for e in cluster.inference.all() if task_type is None or e.task_type == task_type]
    else:
        found = [lookup(cluster, inference_id, task_type)]
    key = "endpoints" if engine.version.inference_endpoint_naming else "models"
    return {key: [render_live(engine, e) for e in found]}


# -- create ----------------------------------------------------------------------------------
def _validate_id(inference_id: str) -> None:
    if not MODEL_ID_PATTERN.match(inference_id):
        raise EsError(
            400,
            "action_request_validation_exception",
            f"Validation Failed: 1: Invalid inference_id; '{inference_id}' can contain lowercase alphanumeric "
            "(a-z and 0-9), hyphens or underscores; must start and end with alphanumeric;",
        )


def _check_model_type(model: TrainedModel, task_type: str) -> None:
    name = config_name(model)
    if CONFIG_OF_TASK.get(task_type) != name:
        raise status_exception(
            400,
            f"Deployed model [{model.model_id}] with type [{name}] does not match the requested task type "
            f"[{task_type}]",
        )


def _owning(cluster: MlCluster, inference_id: str, spec: EndpointSpec) -> InferenceEndpoint:
    assert spec.model_id is not None and spec.num_threads is not None
    if is_builtin(spec.model_id):
        _check_model_type(builtin_model(spec.model_id, 0), spec.task_type)
    else:
        model = cluster.models.get(spec.model_id)
        if model is None:
            raise illegal_argument(
                "Error parsing request config, model id does not match any models available on this platform. "
                f"Was [{spec.model_id}]. You may need to load it into the cluster using eland."
            )
        _check_model_type(model, spec.task_type)
    return InferenceEndpoint(
        inference_id=inference_id,
        task_type=spec.task_type,
        service=spec.service,
        model_id=spec.model_id,
        num_threads=spec.num_threads,
        num_allocations=spec.num_allocations,
        adaptive=spec.adaptive,
        task_settings=spec.task_settings,
        chunking_settings=spec.chunking_settings,
    )


def _attached(cluster: MlCluster, inference_id: str, spec: EndpointSpec) -> InferenceEndpoint:
    assert spec.deployment_id is not None
    dep = cluster.deployments.get(spec.deployment_id)
    if dep is None:
        raise status_exception(404, f"Cannot find deployment [{spec.deployment_id}]")
    if spec.model_id is not None and spec.model_id != dep.model_id:
        raise status_exception(
            400,
            f"Deployment [{dep.deployment_id}] uses model [{dep.model_id}] which does not match the model "
            f"[{spec.model_id}] in the request.",
        )
    model = cluster.models.get(dep.model_id)
    if model is not None:
        _check_model_type(model, spec.task_type)
    return InferenceEndpoint(
        inference_id=inference_id,
        task_type=spec.task_type,
        service=spec.service,
        model_id=dep.model_id,
        num_threads=dep.threads,
        num_allocations=dep.number_of_allocations,
        adaptive=None if dep.adaptive is None else dep.adaptive.render(),
        deployment_id=dep.deployment_id,
        task_settings=spec.task_settings,
        chunking_settings=spec.chunking_settings,
    )


async def put_endpoint(
    engine: Engine, inference_id: str, path_task_type: str | None, body: dict[str, Any], max_wait: TimeValue
) -> dict[str, Any]:
    """PUT in its transport action's order. A failure after the endpoint is stored leaves it stored (issue 137127)."""
    cluster, version = engine.cluster, engine.version
    cluster.advance()
    if cluster.inference.is_reserved(inference_id):
        raise status_exception(
            400,
            f"[{inference_id}] is a reserved inference ID. Cannot create a new inference endpoint with a reserved ID.",
        )
    _validate_id(inference_id)
    task_type = resolve_task_type(path_task_type, body.get("task_type"))
    requested = check_service(version, body, cluster.license)
    if any(inference_id in (d.deployment_id, d.model_id) for d in cluster.deployments.values()):
        raise status_exception(
            400,
            f"Inference endpoint IDs must be unique. Requested inference endpoint ID [{inference_id}] matches "
            "existing trained model ID(s) but must not.",
        )
    spec = parse_put(version, requested, task_type, body)
    endpoint = _attached(cluster, inference_id, spec) if spec.deployment_id else _owning(cluster, inference_id, spec)
    if inference_id in cluster.inference.stored:
        raise EsError(400, "resource_already_exists_exception", f"Inference endpoint [{inference_id}] already exists")
    cluster.inference.put(endpoint)
    if endpoint.owns_deployment:
        await start_endpoint_deployment(engine, endpoint, max_wait)
    return endpoint.render(version)


async def start_endpoint_deployment(engine: Engine, endpoint: InferenceEndpoint, max_wait: TimeValue) -> None:
    """Step 8: download a built-in model if needed, then ML ``_start`` with ``deployment_id`` = inference id."""
    cluster, version = engine.cluster, engine.version
    if cluster.models.get(endpoint.model_id) is None and is_builtin(endpoint.model_id):
        cluster.models.add(builtin_model(endpoint.model_id, int(engine.clock.now() * 1000)))
    adaptive = None
    if endpoint.adaptive is not None:
        adaptive = AdaptiveSettings(
            endpoint.adaptive.get("enabled"),
            endpoint.adaptive.get("min_number_of_allocations"),
            endpoint.adaptive.get("max_number_of_allocations"),
        )
    params = StartParams(
        model_id=endpoint.model_id,
        deployment_id=endpoint.inference_id,
        number_of_allocations=endpoint.num_allocations,
        threads=endpoint.num_threads,
        queue_capacity=version.queue_default,
        cache_size=None,
        priority="normal",
        wait_for="started",
        timeout=max_wait,
        adaptive=adaptive,
    )
    validate_start(version, params, endpoint.num_allocations is not None)
    cluster.advance()
    try:
        dep = start_checks(cluster, params)
    except EsError as exc:
        if exc.status == 404:
            raise not_found(f"Could not deploy model [{endpoint.model_id}] as the model cannot be found.") from None
        raise
    await wait_for_start(engine, dep.deployment_id, params)


# -- delete ----------------------------------------------------------------------------------
def _references_message(inference_id: str, pipelines: list[str]) -> str:
    if not pipelines:
        return ""
    return (
        f"Inference endpoint {inference_id} is referenced by pipelines: [{', '.join(pipelines)}]. Ensure that no "
        "pipelines are using this inference endpoint, or use force to ignore this warning and delete the "
        "inference endpoint."
    )


async def delete_endpoint(
    engine: Engine, inference_id: str, task_type: str | None, force: bool, dry_run: bool
) -> dict[str, Any]:
    cluster, version = engine.cluster, engine.version
    cluster.advance()
    endpoint = lookup(cluster, inference_id, task_type)
    checks = version.inference_delete_flags
    pipelines = cluster.pipeline_refs({inference_id}) if checks else []
    message = _references_message(inference_id, pipelines)
    if dry_run:
        return {"acknowledged": False, "pipelines": pipelines, "indexes": [], "error_message": message}
    if endpoint.default and not force:
        raise status_exception(
            400,
            f"[{inference_id}] is a reserved inference endpoint. Use the force=true query parameter to delete the "
            "inference endpoint.",
        )
    if message and not force:
        raise status_exception(409, message)
    dep_id = endpoint.ml_deployment_id
    if endpoint.owns_deployment and endpoint.service in IN_CLUSTER_SERVICES and dep_id in cluster.deployments:
        await engine.stop(dep_id, allow_no_match=True, force=True)
    cluster.inference.remove(inference_id)
    if not checks:
        return {"acknowledged": True}
    return {"acknowledged": True, "pipelines": [], "indexes": []}
