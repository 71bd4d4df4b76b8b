"""A real /metrics exposition: the operator's runtime objects after one reconcile pass, every family populated.

For the tests that hold documentation, alert rules and dashboards to the series the operator really serves.
"""

from __future__ import annotations

from unittest import mock

from prometheus_client.parser import text_string_to_metric_families

from esml_operator.metrics.prometheus import LeaderState
from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until

URL = "https://es-a:9200"
#: The memory limit the exposition reports (a host process has none; a container has one).
LIMIT = 512 * 1024 * 1024


async def real_exposition() -> str:
    """The text a scrape returns once a resource is reconciled, with a leader and a container memory limit."""
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube)
    op.metrics.leader = lambda: LeaderState(True, 1, 1)
    op.metrics.observe_watch_event("ADDED")
    op.runtime.observe("ADDED", resource("ner", URL))
    await until(lambda: any("allocations" in status for _, status in kube.patches), what="a status with allocations")
    await until(lambda: not op.runtime.queue.running, what="idle")
    with mock.patch("esml_operator.metrics.cgroup.memory_limit_bytes", return_value=LIMIT):
        body = op.metrics.exposition(None)[0].decode()
    await op.close()
    return body


def sample_names(body: str) -> set[str]:
    """Every series name a query can use: counters with ``_total``, histograms' ``_bucket``/``_count``/``_sum``
    (the histogram's own name too: histogram_quantile reads ``_bucket``, but the docs name the family)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(body):
        names.update(sample.name for sample in family.samples)  # families without samples yet count too:
        suffixes = {"counter": ("_total",), "histogram": ("", "_bucket", "_count", "_sum")}.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names
