"""REST handlers: ``PUT`` and ``DELETE _ml/trained_models/{model_id}/model_aliases/{model_alias}``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esml_simulator.ml import aliases
from esml_simulator.rest.request import Action, RestRequest, Result
from esml_simulator.security.privileges import ACTION_DELETE_ALIAS, ACTION_PUT_ALIAS

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine


def prepare_put_alias(engine: Engine, req: RestRequest) -> Action:
    model_id = req.path_params["model_id"]
    alias = req.path_params["model_alias"]
    reassign = req.query.bool("reassign", False)
    req.query.time("timeout")
    req.query.time("master_timeout")

    async def action() -> Result:
        aliases.validate(alias, model_id)
        engine.authorize(req.principal, ACTION_PUT_ALIAS)
        aliases.put_alias(engine.cluster, alias, model_id, reassign)
        return 200, {"acknowledged": True}

    return action


def prepare_delete_alias(engine: Engine, req: RestRequest) -> Action:
    model_id = req.path_params["model_id"]
    alias = req.path_params["model_alias"]
    req.query.time("timeout")
    req.query.time("master_timeout")

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_DELETE_ALIAS)
        aliases.delete_alias(engine.cluster, alias, model_id)
        return 200, {"acknowledged": True}

    return action
