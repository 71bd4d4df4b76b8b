"""REST handlers: ``GET _ml/trained_models/{ids}/_stats`` and ``GET _ml/trained_models/{ids}``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from esml_simulator.errors import no_model, status_exception
from esml_simulator.ml import render
from esml_simulator.ml.models import TrainedModel, is_wildcard, matches, split_ids
from esml_simulator.ml.state import Deployment
from esml_simulator.rest.request import Action, RestRequest, Result
from esml_simulator.security.privileges import ACTION_GET, ACTION_STATS

if TYPE_CHECKING:
    from esml_simulator.ml.cluster import MlCluster
    from esml_simulator.ml.engine import Engine


def resolve_stats(
    cluster: MlCluster, expression: str | None, allow_no_match: bool
) -> list[tuple[TrainedModel, list[Deployment], bool]]:
    """Models matched by id (all their deployments) or through a deployment id (only those deployments)."""
    tokens = [cluster.models.resolve(token) for token in split_ids(expression)]
    by_model: dict[str, set[str]] = {}
    whole: set[str] = set()
    missing: list[str] = []
    for token in tokens:
        hit = False
        for model in cluster.models.models.values():
            if matches(token, model.model_id):
                whole.add(model.model_id)
                by_model.setdefault(model.model_id, set())
                hit = True
        for dep in cluster.deployments.values():
            if matches(token, dep.deployment_id) and dep.model_id in cluster.models.models:
                by_model.setdefault(dep.model_id, set()).add(dep.deployment_id)
                hit = True
        if not hit and (not is_wildcard(token) or not allow_no_match):
            missing.append(token)
    if missing:
        raise no_model(",".join(missing))
    out = []
    for model_id in sorted(by_model):
        model = cluster.models.models[model_id]
        deps = [d for d in cluster.deployments.values() if d.model_id == model_id]
        if model_id not in whole:
            deps = [d for d in deps if d.deployment_id in by_model[model_id]]
        out.append((model, sorted(deps, key=lambda d: d.deployment_id), model_id in whole))
    return out


def prepare_stats(engine: Engine, req: RestRequest) -> Action:
    q = req.query
    expression = req.path_params.get("model_id")
    allow_no_match = q.bool("allow_no_match", True)
    start = q.int("from") or 0
    size = q.int("size")
    size = 100 if size is None else size

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_STATS)
        cluster = engine.cluster
        cluster.advance()
        resolved = resolve_stats(cluster, expression, allow_no_match)
        page = resolved[start : start + size]
        entries: list[dict[str, Any]] = []
        for model, deps, _ in page:
            if not deps:
                entries.append(render.model_stats_entry(cluster, model, None, req.human, req.compat_major))
            for dep in deps:
                entries.append(render.model_stats_entry(cluster, model, dep, req.human, req.compat_major))
        return 200, {"count": len(resolved), "trained_model_stats": entries}

    return action


GENERATED = ("create_time", "created_by", "version", "model_size_bytes", "estimated_operations", "license_level")


def prepare_get_models(engine: Engine, req: RestRequest) -> Action:
    q = req.query
    expression = req.path_params.get("model_id")
    allow_no_match = q.bool("allow_no_match", True)
    include_raw = q.string("include") or ""
    include = {part.strip() for part in include_raw.split(",") if part.strip()}
    if q.bool("include_model_definition", False):
        include.add("definition")
    q.bool("decompress_definition", True)
    exclude_generated = q.bool("exclude_generated", False)
    start = q.int("from") or 0
    size = q.int("size")
    size = 100 if size is None else size
    tags_raw = q.string("tags")
    tags = {t.strip() for t in tags_raw.split(",") if t.strip()} if tags_raw else set()
    valid = {
        "definition",
        "total_feature_importance",
        "feature_importance_baseline",
        "hyperparameters",
        "definition_status",
    }
    for item in include:
        if item not in valid:
            raise status_exception(400, f"unknown include [{item}]; valid values are {sorted(valid)}")

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_GET)
        models = engine.cluster.models.expand(expression, allow_no_match)
        if tags:
            models = [m for m in models if tags <= set(m.config.get("tags", []))]
        page = models[start : start + size]
        if "definition" in include:
            for model in page:
                if model.model_type == "pytorch":
                    raise status_exception(
                        400, f"[{model.model_id}] is type [pytorch] and does not support retrieving the definition"
                    )
        configs = []
        for model in page:
            config = model.render(str(engine.version), include)
            if exclude_generated:
                for key in GENERATED:
                    config.pop(key, None)
            configs.append(config)
        return 200, {"count": len(models), "trained_model_configs": configs}

    return action
