"""Every log line of a reconcile pass carries the resource and its cluster (JSON fields with --log-format json)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from esml_operator.manager.run import configure_logging
from esml_operator.settings import Settings
from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until

URL_A, URL_B = "https://es-a:9200", "https://es-b:9200"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The operator's JSON logging (formatter and filter as configured by ``run``), written to a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings(all_namespaces=True, log_format="json", log_level="DEBUG"))
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_pass_lines_name_their_resource_and_cluster(json_logs: io.StringIO) -> None:
    a, b, kube = FakeES("a"), FakeES("b"), FakeKube()
    op = operator_for({URL_A: a, URL_B: b}, kube)
    op.runtime.observe("ADDED", resource("ner", URL_A, numberOfAllocations=2))
    op.runtime.observe("ADDED", resource("elser", URL_B))
    await until(lambda: "ner" in a.deployments and "elser" in b.deployments, what="both started")
    await until(lambda: not op.runtime.queue.running, what="idle")
    logging.getLogger("esml_operator.test").info("outside any pass")
    await op.close()
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    in_passes = [line for line in lines if "resource" in line]
    started = [line for line in in_passes if "started" in line["message"].lower()]
    assert {(line["resource"], line["cluster"]) for line in started} == {("ns/ner", URL_A), ("ns/elser", URL_B)}
    for line in in_passes:  # never a line that mixes one resource with another's cluster
        assert (line["resource"], line.get("cluster")) in {("ns/ner", URL_A), ("ns/elser", URL_B)}, line
    connected = [line for line in in_passes if line["message"].startswith("connected to")]
    assert connected and all("cluster" in line for line in connected)  # logged below the handlers, still tagged
    outside = [line for line in lines if line["message"] == "outside any pass"]
    assert outside and "resource" not in outside[0] and "cluster" not in outside[0]
