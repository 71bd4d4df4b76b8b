"""Prometheus metrics: what the operator does, what each ModelDeployment looks like, and its inference load.

One :class:`Metrics` object (with its own ``CollectorRegistry``; nothing is
registered globally) is built by :func:`esml_operator.manager.operator.build`. Events are counted as
they happen (passes, Elasticsearch requests, polls, watch events); the state of
every resource is read from the runtime's registry when Prometheus scrapes, so
a deleted resource's series are gone from the next scrape on.

Every replica serves metrics. Only the leader polls Elasticsearch, so the
per-cluster series and the inference load come from the leader; the
per-resource state (spec and status, as the watch delivers them) from every
replica.

Labels never carry secrets: a cluster is named by its endpoint URL, which
cannot carry credentials (the connection refuses userinfo and query strings).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from esml_operator import __version__
from esml_operator.controller.registry import Registry
from esml_operator.controller.snapshots import SnapshotCache
from esml_operator.elasticsearch.operations import RequestObserver, status_class
from esml_operator.metrics.cgroup import MemoryLimitCollector
from esml_operator.metrics.load import LOAD_SERIES, LoadSeries, LoadView, resource_view

logger = logging.getLogger(__name__)

RESOURCE_LABELS = ("namespace", "name", "deployment_id")
_PASS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class LeaderState:
    leading: bool
    transitions: int  # how many times this process became leader
    lease_transitions: int | None  # the Lease's leaseTransitions as last seen (None: not read yet, or no election)


def _capacity_figure(status: Mapping[str, Any], field: str) -> float:
    """A ``status.capacity`` number; 0 while the deployment is not short (no ``capacity``)."""
    capacity = status.get("capacity")
    value = capacity.get(field) if isinstance(capacity, Mapping) else None
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else 0.0


def load_family(series: LoadSeries) -> GaugeMetricFamily | CounterMetricFamily:
    """The family of one inference-load series, per resource."""
    kind = CounterMetricFamily if series.counter else GaugeMetricFamily
    return kind(series.name, series.documentation, labels=RESOURCE_LABELS)


class _StateCollector(Collector):
    """Per-resource and leadership series, computed at scrape time."""

    def __init__(self, registry: Registry, loads: LoadView, leader: Callable[[], LeaderState | None]) -> None:
        self._registry, self._loads, self._leader = registry, loads, leader

    def collect(self) -> Iterable[Metric]:
        yield from self._resources()
        yield from self._leadership()

    def _resources(self) -> Iterator[Metric]:
        def gauge(name: str, documentation: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"esml_modeldeployment_{name}", documentation, labels=RESOURCE_LABELS)

        desired = gauge("desired_allocations", "spec.numberOfAllocations (ignored while adaptive allocations are on).")
        reported = gauge("allocations", "Allocations Elasticsearch reports running (status.allocations).")
        target = gauge("target_allocations", "Allocations Elasticsearch is working towards (status.targetAllocations).")
        ready = gauge("ready", "1 while the Ready condition is True.")
        stalled = gauge("stalled", "1 while the Stalled condition is True (no progress without a change).")
        paused = gauge("paused", "1 while spec.paused is true (the operator only observes).")
        adaptive = gauge("adaptive_allocations_enabled", "1 while Elasticsearch adaptive allocations own the count.")
        short_cpu = gauge("capacity_shortfall_processors", "Processors missing for all allocations (status.capacity).")
        short_mem = gauge("capacity_shortfall_memory_bytes", "Native ML memory missing on a node (status.capacity).")
        loads = [(series, load_family(series)) for series in LOAD_SERIES]
        for entry in self._registry:
            resource = resource_view(entry)
            labels = resource.labels
            if resource.desired is not None:
                desired.add_metric(labels, resource.desired)
            for family, key in ((reported, "allocations"), (target, "targetAllocations")):
                value = resource.status.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    family.add_metric(labels, value)
            ready.add_metric(labels, float(resource.condition_true("Ready")))
            stalled.add_metric(labels, float(resource.condition_true("Stalled")))
            paused.add_metric(labels, float(resource.paused))
            adaptive.add_metric(labels, float(resource.adaptive))
            for short, field in ((short_cpu, "shortfallProcessors"), (short_mem, "shortfallMemoryBytes")):
                short.add_metric(labels, _capacity_figure(resource.status, field))
            found = self._loads.load_of(entry, resource)
            if found is None:
                continue
            for series, load in loads:
                value = series.read(found.load)
                if value is not None:
                    load.add_metric(labels, value)
        yield from (desired, reported, target, ready, stalled, paused, adaptive, short_cpu, short_mem)
        yield from (family for _, family in loads)
        yield GaugeMetricFamily(
            "esml_modeldeployments",
            "ModelDeployments this replica watches (its memory grows with them).",
            value=len(self._registry),
        )

    def _leadership(self) -> Iterator[Metric]:
        state = self._leader()
        if state is None:
            return
        yield GaugeMetricFamily(
            "esml_leader_election_leader",
            "1 while this replica is the elected leader (the only one that acts).",
            value=float(state.leading),
        )
        yield CounterMetricFamily(
            "esml_leader_election_acquired", "How many times this replica became leader.", value=state.transitions
        )
        if state.lease_transitions is not None:
            yield GaugeMetricFamily(
                "esml_leader_election_lease_transitions",
                "The Lease's leaseTransitions as last seen: how often leadership changed hands, by any replica.",
                value=state.lease_transitions,
            )


class _WritesCollector(Collector):
    """``esml_status_writes_total``: every status write must come back through every replica's watch;
    ``esml_events_dropped_total``: Event batches dropped because the API server could not keep up."""

    def __init__(self, writes: Callable[[], int], dropped: Callable[[], int]) -> None:
        self._writes, self._dropped = writes, dropped

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "esml_status_writes",
            "ModelDeployment status patches this replica sent (only the leader writes).",
            value=self._writes(),
        )
        yield CounterMetricFamily(
            "esml_events_dropped",
            "Event batches not posted because too many waited for the API server already (status was written).",
            value=self._dropped(),
        )


class _InfoCollector(Collector):
    """``esml_operator_info``: the version, and the event loop the operator runs on (set at start-up)."""

    def __init__(self, event_loop: Callable[[], str]) -> None:
        self._event_loop = event_loop

    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "esml_operator_info",
            "Always 1: the operator's version and its event loop (--event-loop).",
            labels=("version", "event_loop"),
        )
        info.add_metric([__version__, self._event_loop()], 1)
        yield info


class Metrics:
    """Every series of the operator, in one registry (``self.registry``)."""

    def __init__(self, registry: Registry, snapshots: SnapshotCache, *, wall: Callable[[], float] = time.time) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._registry = registry
        self.loads = LoadView(registry, snapshots)
        #: Returns this process's leadership (set once the elector exists); None: no election series.
        self.leader: Callable[[], LeaderState | None] = lambda: None
        self._wall = wall
        r = self.registry
        self.passes = Counter("esml_reconcile_passes", "Reconcile passes by outcome.", ["outcome"], registry=r)
        self.pass_seconds = Histogram(
            "esml_reconcile_duration_seconds", "Duration of one reconcile pass.", buckets=_PASS_BUCKETS, registry=r
        )
        self.reaction_seconds = Histogram(
            "esml_reconcile_reaction_seconds",
            "From a watch event that needs a pass (a new resource or generation, a deletion) to the end of the "
            "first pass that read it.",
            buckets=_PASS_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "esml_elasticsearch_requests",
            "Requests sent to Elasticsearch, by operation and status class.",
            ["operation", "status_class"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "esml_elasticsearch_request_duration_seconds",
            "Duration of Elasticsearch requests, by operation.",
            ["operation"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.poll_errors = Counter(
            "esml_elasticsearch_poll_errors", "Failed _stats polls, by cluster endpoint.", ["endpoint"], registry=r
        )
        self.last_poll = Gauge(
            "esml_elasticsearch_last_successful_poll_timestamp_seconds",
            "Unix time of the last successful _stats poll, by cluster endpoint.",
            ["endpoint"],
            registry=r,
        )
        self.up = Gauge(
            "esml_elasticsearch_up",
            "1 when the cluster's last answer came (and was not a 5xx), 0 when it was refused, timed out or a 5xx.",
            ["endpoint"],
            registry=r,
        )
        self.watch_events = Counter(
            "esml_watch_events", "ModelDeployment watch events received, by type.", ["type"], registry=r
        )
        self.last_watch_event = Gauge(
            "esml_watch_last_event_timestamp_seconds", "Unix time of the last ModelDeployment watch event.", registry=r
        )
        #: The event loop the operator runs on (uvloop or asyncio), set at start-up by the manager.
        self.event_loop = "unknown"
        #: Status patches this process sent (the StatusWriter's count, set by manager.operator.build).
        self.status_writes: Callable[[], int] = lambda: 0
        #: Event batches dropped with a full backlog (the EventPoster's count, set by manager.operator.build).
        self.events_dropped: Callable[[], int] = lambda: 0
        self._endpoints: set[str] = set()
        r.register(_StateCollector(registry, self.loads, lambda: self.leader()))
        r.register(_WritesCollector(lambda: self.status_writes(), lambda: self.events_dropped()))
        r.register(_InfoCollector(lambda: self.event_loop))
        ProcessCollector(registry=r)  # process_resident_memory_bytes, process_cpu_seconds_total, ...
        r.register(MemoryLimitCollector())

    # -- events ---------------------------------------------------------------------------------
    def observe_pass(self, outcome: str, seconds: float) -> None:
        self.passes.labels(outcome).inc()
        self.pass_seconds.observe(seconds)

    def observe_reaction(self, seconds: float) -> None:
        self.reaction_seconds.observe(seconds)

    def observe_watch_event(self, event_type: str | None) -> None:
        self.watch_events.labels((event_type or "LIST").upper()).inc()
        self.last_watch_event.set(self._wall())

    def request_observer(self, endpoint: str) -> RequestObserver:
        """The observer for the client of ``endpoint`` (given to :class:`ConnectionPool`)."""

        def observe(operation: str, status: int | None, seconds: float) -> None:
            self.requests.labels(operation, status_class(status)).inc()
            self.request_seconds.labels(operation).observe(seconds)
            if operation not in ("info", "stats"):
                return
            self._endpoints.add(endpoint)
            self.up.labels(endpoint).set(1.0 if status is not None and status < 500 else 0.0)
            if operation == "stats":
                if status is not None and 200 <= status < 300:
                    self.last_poll.labels(endpoint).set(self._wall())
                else:
                    self.poll_errors.labels(endpoint).inc()

        return observe

    def keep_endpoints(self, live: Iterable[str]) -> None:
        """Drop the series of clusters no resource uses any more."""
        keep = set(live)
        for endpoint in self._endpoints - keep:
            for metric in (self.poll_errors, self.last_poll, self.up):
                with contextlib.suppress(KeyError):
                    metric.remove(endpoint)
        self._endpoints &= keep

    def resources(self) -> int:
        """How many ModelDeployments this replica watches."""
        return len(self._registry)

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape body and its content type (OpenMetrics when the scraper asks for it)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
