"""Cluster privileges: the built-in roles, transport action names and which privileges grant each action."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from esml_simulator.versions import EsVersion

#: CLI role name -> (built-in role name shown in 403 messages, cluster privileges).
ROLES: dict[str, tuple[str, frozenset[str]]] = {
    "superuser": ("superuser", frozenset({"all"})),
    "manage_ml": ("machine_learning_admin", frozenset({"manage_ml"})),
    "monitor_ml": ("machine_learning_user", frozenset({"monitor_ml"})),
    "inference_admin": ("inference_admin", frozenset({"manage_inference"})),
    "inference_user": ("inference_user", frozenset({"monitor_inference"})),
}

#: The predefined cluster privileges the simulator knows (a subset of Elasticsearch's); action patterns
#: such as ``cluster:monitor/*`` are accepted too.
CLUSTER_PRIVILEGES = frozenset(
    {
        "all",
        "manage",
        "monitor",
        "manage_ml",
        "monitor_ml",
        "manage_inference",
        "monitor_inference",
        "manage_security",
        "manage_api_key",
        "manage_own_api_key",
        "manage_ingest_pipelines",
        "manage_pipeline",
        "read_pipeline",
    }
)

# Transport actions (section 7.2).
ACTION_START = "cluster:admin/xpack/ml/trained_models/deployment/start"
ACTION_STOP = "cluster:admin/xpack/ml/trained_models/deployment/stop"
ACTION_UPDATE = "cluster:admin/xpack/ml/trained_models/deployment/update"
ACTION_STATS = "cluster:monitor/xpack/ml/inference/stats/get"
ACTION_GET = "cluster:monitor/xpack/ml/inference/get"
ACTION_PUT_MODEL = "cluster:admin/xpack/ml/inference/put"
ACTION_DELETE_MODEL = "cluster:admin/xpack/ml/inference/delete"
ACTION_PUT_DEFINITION = "cluster:admin/xpack/ml/trained_models/part/put"
ACTION_PUT_VOCABULARY = "cluster:admin/xpack/ml/trained_models/vocabulary/put"
ACTION_PUT_ALIAS = "cluster:admin/xpack/ml/inference/model_aliases/put"
ACTION_DELETE_ALIAS = "cluster:admin/xpack/ml/inference/model_aliases/delete"
ACTION_INFER_MODEL = "cluster:monitor/xpack/ml/inference/infer"
ACTION_CLEAR_CACHE = "cluster:admin/xpack/ml/trained_models/cache/clear"
ACTION_MAIN = "cluster:monitor/main"
ACTION_ML_INFO = "cluster:monitor/xpack/ml/info/get"
ACTION_ML_MEMORY_STATS = "cluster:monitor/xpack/ml/memory/stats/get"
ACTION_CREATE_API_KEY = "cluster:admin/xpack/security/api_key/create"
ACTION_PUT_PIPELINE = "cluster:admin/ingest/pipeline/put"
ACTION_GET_PIPELINE = "cluster:admin/ingest/pipeline/get"
ACTION_DELETE_PIPELINE = "cluster:admin/ingest/pipeline/delete"
ACTION_INFERENCE_PUT = "cluster:admin/xpack/inference/put"
ACTION_INFERENCE_UPDATE = "cluster:admin/xpack/inference/update"
ACTION_INFERENCE_DELETE = "cluster:admin/xpack/inference/delete"
ACTION_INFERENCE_GET = "cluster:monitor/xpack/inference/get"
ACTION_INFERENCE_INFER = "cluster:monitor/xpack/inference"


def granting_privileges(action: str, version: EsVersion) -> list[str]:
    """The cluster privileges that grant ``action``, least powerful first."""
    if action in (ACTION_START, ACTION_STOP):
        if version.has_manage_inference:
            return ["manage_inference", "manage_ml", "manage", "all"]
        return ["manage_ml", "manage", "all"]
    if action.startswith("cluster:admin/xpack/inference/"):
        return ["manage_inference", "manage", "all"]
    if action.startswith("cluster:monitor/xpack/inference"):
        return ["monitor_inference", "manage_inference", "monitor", "manage", "all"]
    if action.startswith("cluster:admin/xpack/ml/"):
        return ["manage_ml", "manage", "all"]
    if action.startswith("cluster:monitor/xpack/ml/"):
        return ["monitor_ml", "manage_ml", "monitor", "manage", "all"]
    if action == ACTION_MAIN:
        return ["monitor", "manage", "all"]
    if action == ACTION_CREATE_API_KEY:
        return ["manage_own_api_key", "manage_api_key", "manage_security", "all"]
    if action == ACTION_GET_PIPELINE:
        return ["read_pipeline", "manage_ingest_pipelines", "manage_pipeline", "manage", "all"]
    if action.startswith("cluster:admin/ingest/pipeline/"):
        return ["manage_ingest_pipelines", "manage_pipeline", "manage", "all"]
    return ["all"]


@dataclass(frozen=True)
class Role:
    name: str
    cluster: frozenset[str]


def check_privileges(names: object) -> frozenset[str]:
    """Cluster privilege names as a role descriptor's ``cluster`` list gives them (ValueError if unknown)."""
    if not isinstance(names, list | tuple | set | frozenset) or not all(isinstance(n, str) for n in names):
        raise ValueError("cluster privileges must be a list of names")
    for name in names:
        if name not in CLUSTER_PRIVILEGES and not name.startswith("cluster:"):
            raise ValueError(
                f"unknown cluster privilege [{name}]. a privilege must be either one of the predefined cluster "
                f"privilege names [{','.join(sorted(CLUSTER_PRIVILEGES))}] or a pattern over one of the available "
                "cluster actions"
            )
    return frozenset(names)


def resolve_role(spec: str, name: str) -> Role:
    """A built-in role (``superuser``, ``manage_ml``, ...) or ``PRIV[,PRIV...]``: a role called ``name``."""
    if spec in ROLES:
        role_name, privileges = ROLES[spec]
        return Role(role_name, privileges)
    return Role(name, check_privileges([p.strip() for p in spec.split(",") if p.strip()]))


def grants(privileges: frozenset[str], action: str, granting: list[str]) -> bool:
    """A privilege grants an action if it is one of the granting privileges or an action pattern matching it."""
    return any(p in granting or (p.startswith("cluster:") and fnmatch.fnmatchcase(action, p)) for p in privileges)
