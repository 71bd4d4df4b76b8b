"""Inference endpoints of the ``elasticsearch`` (and deprecated ``elser``) service: stored configs and ownership.

An endpoint either *owns* its deployment (``service_settings.model_id``, no
``deployment_id``: the deployment id is the inference id) or is *attached* to
an existing one (``service_settings.deployment_id``). Elasticsearch stores no
ownership in ML state; it infers it from the ids, and so does the simulator
("Inference APIs" in the REST API reference).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from esml_simulator.ml.builtin_models import E5_X86, ELSER_X86, RERANK
from esml_simulator.versions import EsVersion

IN_CLUSTER_SERVICES = ("elasticsearch", "elser")
TASK_TYPES = ("text_embedding", "sparse_embedding", "rerank", "completion", "chat_completion")
SERVICE_TASK_TYPES = {"elasticsearch": ("sparse_embedding", "text_embedding", "rerank"), "elser": ("sparse_embedding",)}
CHUNKED_TASK_TYPES = ("sparse_embedding", "text_embedding")
DEFAULT_CHUNKING: dict[str, Any] = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
DEFAULT_ADAPTIVE: dict[str, Any] = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32}
DEFAULT_ELSER = ".elser-2-elasticsearch"
DEFAULT_E5 = ".multilingual-e5-small-elasticsearch"
DEFAULT_RERANK = ".rerank-v1-elasticsearch"


@dataclass
class InferenceEndpoint:
    inference_id: str
    task_type: str
    service: str
    model_id: str
    num_threads: int
    num_allocations: int | None = None
    #: ``{"enabled": ..., "min_number_of_allocations"?: ..., "max_number_of_allocations"?: ...}`` as stored
    adaptive: dict[str, Any] | None = None
    deployment_id: str | None = None
    task_settings: dict[str, Any] = field(default_factory=dict)
    chunking_settings: dict[str, Any] | None = None
    default: bool = False

    @property
    def owns_deployment(self) -> bool:
        return self.deployment_id is None

    @property
    def ml_deployment_id(self) -> str:
        """The trained-model deployment the endpoint uses."""
        return self.deployment_id or self.inference_id

    def copy(self) -> InferenceEndpoint:
        return copy.deepcopy(self)

    def render(self, version: EsVersion, live_allocations: int | None = None) -> dict[str, Any]:
        """The endpoint as PUT, GET and ``_update`` print it (``ModelConfigurations``)."""
        settings: dict[str, Any] = {}
        allocations = live_allocations if live_allocations is not None else self.num_allocations
        if allocations is not None:
            settings["num_allocations"] = allocations
        settings["num_threads"] = self.num_threads
        settings["model_id"] = self.model_id
        if self.adaptive is not None:
            settings["adaptive_allocations"] = dict(self.adaptive)
        if self.deployment_id is not None:
            settings["deployment_id"] = self.deployment_id
        out: dict[str, Any] = {
            "inference_id": self.inference_id,
            "task_type": self.task_type,
            "service": self.service,
            "service_settings": settings,
        }
        if self.task_settings or not version.has_inference_endpoints_816:
            out["task_settings"] = dict(self.task_settings)  # before 8.16 an empty object was printed
        if self.chunking_settings is not None:
            out["chunking_settings"] = dict(self.chunking_settings)
        return out

    def dump(self) -> dict[str, Any]:
        return copy.deepcopy(vars(self))

    @staticmethod
    def load(data: dict[str, Any]) -> InferenceEndpoint:
        return InferenceEndpoint(**copy.deepcopy(data))


def default_endpoints(version: EsVersion) -> dict[str, InferenceEndpoint]:
    """The preconfigured endpoints (8.16+): adaptive 0..32 allocations of one thread, no fixed count."""
    if not version.has_inference_endpoints_816:
        return {}

    def make(inference_id: str, task_type: str, model_id: str) -> InferenceEndpoint:
        return InferenceEndpoint(
            inference_id=inference_id,
            task_type=task_type,
            service="elasticsearch",
            model_id=model_id,
            num_threads=1,
            adaptive=dict(DEFAULT_ADAPTIVE),
            task_settings={"return_documents": True} if task_type == "rerank" else {},
            chunking_settings=dict(DEFAULT_CHUNKING) if task_type in CHUNKED_TASK_TYPES else None,
            default=True,
        )

    out = {
        DEFAULT_ELSER: make(DEFAULT_ELSER, "sparse_embedding", ELSER_X86),
        DEFAULT_E5: make(DEFAULT_E5, "text_embedding", E5_X86),
    }
    if version.has_rerank_default:
        out[DEFAULT_RERANK] = make(DEFAULT_RERANK, "rerank", RERANK)
    return out


class InferenceRegistry:
    """Stored endpoints plus the version's default endpoints (listed even before they are first used).

    A default endpoint is never really gone: Elasticsearch recreates its
    configuration on the next read, so deleting one only resets it.
    """

    def __init__(self, version: EsVersion) -> None:
        self.version = version
        self.stored: dict[str, InferenceEndpoint] = {}
        self._defaults = default_endpoints(version)

    def is_reserved(self, inference_id: str) -> bool:
        return inference_id in self._defaults

    def get(self, inference_id: str) -> InferenceEndpoint | None:
        found = self.stored.get(inference_id)
        if found is None and inference_id in self._defaults:
            return self._defaults[inference_id].copy()
        return found

    def all(self) -> list[InferenceEndpoint]:
        merged = {k: v.copy() for k, v in self._defaults.items()}
        merged.update(self.stored)
        return [merged[k] for k in sorted(merged)]

    def put(self, endpoint: InferenceEndpoint) -> None:
        self.stored[endpoint.inference_id] = endpoint

    def remove(self, inference_id: str) -> InferenceEndpoint | None:
        return self.stored.pop(inference_id, None)

    def owner_of(self, deployment_id: str) -> InferenceEndpoint | None:
        """The endpoint that created ``deployment_id``: an in-cluster endpoint whose id is the deployment id."""
        endpoint = self.get(deployment_id)
        if endpoint is not None and endpoint.service in IN_CLUSTER_SERVICES and endpoint.owns_deployment:
            return endpoint
        return None

    def users_of(self, deployment_id: str) -> list[InferenceEndpoint]:
        """Endpoints attached to ``deployment_id`` through ``service_settings.deployment_id``."""
        return [e for e in self.all() if e.deployment_id == deployment_id]

    def names(self, inference_id: str) -> bool:
        return self.get(inference_id) is not None

    def dump(self) -> list[dict[str, Any]]:
        return [e.dump() for e in self.stored.values()]

    def load(self, data: object, model_of: dict[str, str]) -> None:
        """Restore stored endpoints (``model_of``: deployment id -> model id, to read older state files)."""
        self.stored = {}
        if isinstance(data, list):
            for item in data:
                endpoint = InferenceEndpoint.load(item)
                self.stored[endpoint.inference_id] = endpoint
        elif isinstance(data, dict):  # format of the earlier stub: {id: {"deployment_id", "created_deployment"}}
            for inference_id, item in data.items():
                deployment_id = str(item.get("deployment_id", inference_id))
                self.stored[inference_id] = InferenceEndpoint(
                    inference_id=inference_id,
                    task_type="sparse_embedding",
                    service="elasticsearch",
                    model_id=model_of.get(deployment_id, ELSER_X86),
                    num_threads=1,
                    deployment_id=None if deployment_id == inference_id else deployment_id,
                )
