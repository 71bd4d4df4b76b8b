"""Each ModelDeployment's inference load, from its cluster's latest poll, and the one table of its series.

The load comes from the ``_stats`` poll the leader makes anyway (no request of
its own). :data:`LOAD_SERIES` defines each series once: ``/metrics`` serves every
one per resource, and the external metrics API (for an HPA) serves the same
under the same names (a counter's with ``_total``, as a query names it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from esml_operator.controller.memory import Entry, spec_of
from esml_operator.controller.registry import Registry
from esml_operator.controller.snapshots import SnapshotCache
from esml_operator.elasticsearch.load import InferenceLoad
from esml_operator.reconcile import SpecError

#: Stalled reasons under which the deployment with the resource's id is not the resource's own.
_NOT_OURS = frozenset({"DeploymentConflict", "DeploymentModelMismatch"})


@dataclass(frozen=True)
class LoadSeries:
    """One inference-load series: its family name, help, kind and how to read it (None: no value)."""

    name: str
    documentation: str
    counter: bool
    read: Callable[[InferenceLoad], float | None]

    @property
    def sample_name(self) -> str:
        """The name a query (and the external metrics API) uses: a counter's ends in ``_total``."""
        return f"{self.name}_total" if self.counter else self.name


def _seconds(load: InferenceLoad) -> float | None:
    return None if load.average_inference_time_ms is None else load.average_inference_time_ms / 1000.0


LOAD_SERIES: tuple[LoadSeries, ...] = (
    LoadSeries(
        "esml_modeldeployment_inference_pending_requests",
        "Inference requests queued on the deployment's nodes.",
        False,
        lambda load: load.pending_requests,
    ),
    LoadSeries(
        "esml_modeldeployment_average_inference_time_seconds",
        "Average inference time since the start, over all nodes.",
        False,
        _seconds,
    ),
    LoadSeries(
        "esml_modeldeployment_inference_throughput_last_minute",
        "Inferences completed in the last minute.",
        False,
        lambda load: load.throughput_last_minute,
    ),
    LoadSeries(
        "esml_modeldeployment_inference_peak_throughput_per_minute",
        "Most inferences completed in one minute.",
        False,
        lambda load: load.peak_throughput_per_minute,
    ),
    LoadSeries(
        "esml_modeldeployment_inferences",
        "Inferences completed (Elasticsearch's inference_count).",
        True,
        lambda load: load.inference_count,
    ),
    LoadSeries(
        "esml_modeldeployment_inference_rejected",
        "Inference requests rejected because the queue was full.",
        True,
        lambda load: load.rejected_execution_count,
    ),
    LoadSeries(
        "esml_modeldeployment_inference_timeouts",
        "Inference requests that timed out in the queue.",
        True,
        lambda load: load.timeout_count,
    ),
    LoadSeries(
        "esml_modeldeployment_inference_errors",
        "Inference requests that failed.",
        True,
        lambda load: load.error_count,
    ),
)


@dataclass(frozen=True)
class ResourceLoad:
    """One ModelDeployment's inference load, from the last poll of its cluster."""

    namespace: str
    name: str
    deployment_id: str
    model_id: str
    load: InferenceLoad
    at: datetime  # when the poll was sent


@dataclass(frozen=True)
class ResourceView:
    namespace: str
    name: str
    deployment_id: str
    model_id: str
    desired: int | None
    paused: bool
    adaptive: bool
    status: Mapping[str, Any]

    @property
    def labels(self) -> list[str]:
        return [self.namespace, self.name, self.deployment_id]

    def condition(self, kind: str) -> Mapping[str, Any] | None:
        for item in self.status.get("conditions") or []:
            if isinstance(item, Mapping) and item.get("type") == kind:
                return item
        return None

    def condition_true(self, kind: str) -> bool:
        found = self.condition(kind)
        return found is not None and found.get("status") == "True"


def resource_view(entry: Entry) -> ResourceView:
    parsed = spec_of(entry)  # parsed once per generation, shared with the passes
    if isinstance(parsed, SpecError):
        spec = entry.body.get("spec")
        spec = spec if isinstance(spec, Mapping) else {}
        raw = spec.get("numberOfAllocations")
        model = str(spec.get("modelId") or "")
        return ResourceView(
            str(entry.meta.get("namespace", "")),
            str(entry.meta.get("name", "")),
            str(spec.get("deploymentId") or model),
            model,
            raw if isinstance(raw, int) else None,
            spec.get("paused") is True,
            False,
            entry.stored_status,
        )
    return ResourceView(
        str(entry.meta.get("namespace", "")),
        str(entry.meta.get("name", "")),
        parsed.deployment_id,
        parsed.model_id,
        parsed.number_of_allocations,
        parsed.paused,
        parsed.adaptive_enabled,
        entry.stored_status,
    )


class LoadView:
    """The inference load of each resource, from its cluster's latest poll (no request of its own)."""

    def __init__(self, registry: Registry, snapshots: SnapshotCache) -> None:
        self._registry, self._snapshots = registry, snapshots

    def loads(self, namespace: str | None = None) -> Iterator[ResourceLoad]:
        for entry in self._registry:
            if namespace is not None and entry.meta.get("namespace") != namespace:
                continue
            found = self.load_of(entry)
            if found is not None:
                yield found

    def load_of(self, entry: Entry, resource: ResourceView | None = None) -> ResourceLoad | None:
        if entry.cluster_key is None or entry.meta.get("deletionTimestamp"):
            return None
        taken = self._snapshots.latest(entry.cluster_key)
        if taken is None:
            return None
        resource = resource or resource_view(entry)
        stalled = resource.condition("Stalled")
        if stalled is not None and stalled.get("status") == "True" and stalled.get("reason") in _NOT_OURS:
            return None  # the deployment with this id is another resource's (or another model's)
        stats = taken.snapshot.deployments.get(resource.deployment_id)
        if stats is None or stats.model_id != resource.model_id:
            return None
        return ResourceLoad(
            resource.namespace, resource.name, resource.deployment_id, resource.model_id, stats.load, taken.at
        )
