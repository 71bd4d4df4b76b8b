"""Model aliases: an alias names one trained model; GET, ``_stats`` and ``_infer`` resolve it.

The checks and their order follow Elasticsearch's put-alias action: the
request's own validation, an existing alias without ``reassign``, an alias
that is a model id, a missing model, then (when the alias moves from a model
that still exists) the same inference config and model type, and for pytorch
models: an alias cannot move from a deployed model to one that is not
deployed, nor from a started one to one still starting.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from esml_simulator.errors import EsError, illegal_argument, no_model, status_exception, validation_failed
from esml_simulator.ml.builtin_models import config_name

if TYPE_CHECKING:
    from esml_simulator.ml.cluster import MlCluster
    from esml_simulator.ml.models import TrainedModel

#: Like a model id, but an alias cannot end in a digit.
ALIAS_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9_\-.]*[a-z])?")


def validate(alias: str, model_id: str) -> None:
    errors = []
    if alias == model_id:
        errors.append(f"model_alias [{alias}] cannot equal model_id [{model_id}]")
    if not ALIAS_PATTERN.fullmatch(alias):
        errors.append(
            f"Invalid model_alias; '{alias}' can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
            "underscores; must start with alphanumeric and cannot end with numbers"
        )
    if errors:
        raise validation_failed(errors)


def put_alias(cluster: MlCluster, alias: str, model_id: str, reassign: bool) -> None:
    aliases = cluster.models.aliases
    old_id = aliases.get(alias)
    if old_id is not None and not reassign:
        raise illegal_argument(
            f"cannot assign model_alias [{alias}] to model_id [{model_id}] as model_alias already refers to "
            f"[{old_id}]. Set parameter [reassign] to [true] if model_alias should be reassigned."
        )
    if cluster.models.get(alias) is not None:
        raise illegal_argument("model_alias cannot be the same as an existing trained model_id")
    new = cluster.models.get(model_id)
    if new is None:
        raise no_model(model_id)
    old = cluster.models.get(old_id) if old_id is not None else None
    if old is not None:
        _check_move(cluster, alias, old, new)
    aliases[alias] = model_id


def _check_move(cluster: MlCluster, alias: str, old: TrainedModel, new: TrainedModel) -> None:
    prefix = f"cannot reassign model_alias [{alias}] to model [{new.model_id}]"
    old_config, new_config = config_name(old), config_name(new)
    if old_config != new_config:
        raise illegal_argument(
            f"{prefix} with inference config type [{new_config}] from model [{old.model_id}] with type [{old_config}]"
        )
    if old.model_type != new.model_type:
        raise illegal_argument(
            f"{prefix} with type [{new.model_type}] from model [{old.model_id}] with type [{old.model_type}]"
        )
    if new.model_type != "pytorch":
        return
    old_deps = [d for d in cluster.deployments.values() if d.model_id == old.model_id]
    new_deps = [d for d in cluster.deployments.values() if d.model_id == new.model_id]
    if old_deps and not new_deps:
        raise illegal_argument(f"{prefix} from model [{old.model_id}] as it is not yet deployed")
    old_running = any(d.allocation_state() in ("started", "fully_allocated") for d in old_deps)
    if old_running and any(d.allocation_state() == "starting" for d in new_deps):
        # Elasticsearch's message has the two spaces.
        raise illegal_argument(f"{prefix}  from model [{old.model_id}] as it is not yet allocated to any nodes")


def delete_alias(cluster: MlCluster, alias: str, model_id: str) -> None:
    aliases = cluster.models.aliases
    target = aliases.get(alias)
    if target is None:
        raise EsError(404, "status_exception", f"model_alias [{alias}] could not be found")
    if target != model_id:
        raise status_exception(409, f"model_alias [{alias}] does not refer to provided model_id [{model_id}]")
    del aliases[alias]
