"""The /metrics of real operator processes, against a real API server: promtool lints it, it has every series
the alert rules and the dashboard read, and the leader's status writes come back to every replica's watch
(what EsmlOperatorWatchStalled relies on). The replicas run on different event loops (uvloop, the default where it
is installed, and --event-loop asyncio), and each says which one it runs on."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import yaml

from esml_operator import __version__
from esml_operator.metrics.cgroup import memory_limit_bytes
from tests.e2e.conftest import Kube, model_deployment, wait_for
from tests.e2e.test_lifecycle import converged
from tests.e2e.test_metrics_replicas import samples, value
from tests.support.operator import OperatorProcess
from tests.support.promql import series_names
from tests.support.promtool import PROMETHEUS_RULE, promtool
from tests.support.simulator import SimulatorProcess
from tests.unit.exposition import sample_names
from tests.unit.test_grafana_dashboard import expanded, queries


def test_real_scrapes_lint_clean_and_feed_every_alert_and_panel(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    es_secrets: dict[str, str],
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    lease = f"esml-{uuid.uuid4().hex[:8]}"
    loops = {"uvloop": (), "asyncio": ("--event-loop", "asyncio")}
    replicas = [operator_factory("--lease-name", lease, *flags) for flags in loops.values()]
    kube.apply(model_deployment("ner", es_url, allocations=2))
    wait_for(lambda: converged(kube, "ner", 2), what="Ready with 2")
    leader = wait_for(
        lambda: next((op for op in replicas if value(samples(op), "esml_leader_election_leader") == 1.0), None),
        what="a leader",
    )
    writes = wait_for(lambda: value(samples(leader), "esml_status_writes_total"), what="the leader's status writes")
    assert writes >= 1

    def every_replica_saw_a_write() -> bool:  # the leader's writes come back to every replica's watch, its own too
        return all((value(samples(op), "esml_watch_events_total", type="MODIFIED") or 0) >= 1 for op in replicas)

    wait_for(every_replica_saw_a_write, what="MODIFIED watch events on every replica")

    for op, loop in zip(replicas, loops, strict=True):
        assert value(samples(op), "esml_operator_info", version=__version__, event_loop=loop) == 1.0, loop
        assert f"running on the {loop} event loop" in op.log, loop

    bodies = [op.metrics() for op in replicas]
    for body in bodies:
        result = promtool("check", "metrics", stdin=body)
        assert result.returncode == 0, result.stdout + result.stderr
    served = set().union(*(sample_names(body) for body in bodies))
    if memory_limit_bytes() is None:  # a host process without a memory limit has no limit series
        served.add("esml_process_memory_limit_bytes")
    rules = yaml.safe_load(PROMETHEUS_RULE.read_text())["spec"]["groups"]
    exprs = [str(rule["expr"]) for group in rules for rule in group["rules"]]
    exprs += [expanded(expr) for _, expr in queries()]
    missing = {name for expr in exprs for name in series_names(expr)} - served
    assert not missing, f"read by an alert or a panel but not in a real scrape: {sorted(missing)}"
    assert {"process_resident_memory_bytes", "esml_reconcile_reaction_seconds_bucket"} <= served
