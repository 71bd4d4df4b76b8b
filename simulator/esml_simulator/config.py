"""Simulator settings shared by the CLI and the Python API."""

from __future__ import annotations

from dataclasses import dataclass, field

from esml_simulator.ml.models import DEFAULT_MODEL_BYTES
from esml_simulator.versions import DEFAULT_VERSION

GIB = 1024**3
#: The inference ``_update`` rules from 8.18 (``SimulatorConfig.inference_update_style``).
MERGE = "merge"
NEWEST = "newest"
INFERENCE_UPDATE_STYLES = (MERGE, NEWEST)


@dataclass
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 9200
    es_version: str = DEFAULT_VERSION
    nodes: int = 2
    processors: int = 4
    node_memory: int = 8 * GIB
    security: bool = True
    elastic_password: str = "changeme"
    #: (username, password, role): a built-in role (``superuser``, ``manage_ml``, ``monitor_ml``,
    #: ``inference_admin``, ``inference_user``) or a comma-separated cluster privilege list
    users: list[tuple[str, str, str]] = field(default_factory=list)
    #: (id, key, role), the role as for users
    api_keys: list[tuple[str, str, str]] = field(default_factory=list)
    can_scale: bool = False
    #: ``xpack.ml.max_lazy_ml_nodes`` and ``xpack.ml.max_ml_node_size`` (bytes, 0 = unset)
    max_lazy_ml_nodes: int = 0
    max_ml_node_size: int = 0
    allocation_delay: float = 1.0
    adaptive_interval: float = 10.0
    scale_to_zero_time: float = 24 * 3600.0
    stop_delay: float = 0.0
    #: Model ids preloaded as fully defined pytorch models.
    models: list[str] = field(default_factory=list)
    model_size: int = DEFAULT_MODEL_BYTES
    tls_cert: str | None = None
    tls_key: str | None = None
    state_file: str | None = None
    fake_clock: bool = False
    cluster_name: str = "esml-simulator"
    node_name: str = "esml-simulator-master"
    license: str = "platinum"
    #: inference ``_update`` rules from 8.18: ``merge`` (9.2 code) or ``newest`` (exactly one of
    #: ``num_allocations``/``adaptive_allocations``; default endpoints refused). Release UNCONFIRMED.
    inference_update_style: str = MERGE
