"""The operator's own process series: resident memory, the container's memory limit (from its cgroup), and
the status writes that the stalled-watch alert compares with watch events."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from esml_operator.metrics.cgroup import MemoryLimitCollector, memory_limit_bytes
from tests.unit.runtime_fakes import FakeES, FakeKube, operator_for, resource, until
from tests.unit.test_metrics import scrape, value

URL = "https://es-a:9200"


def cgroups(tmp_path: Path, proc: str, files: dict[str, str]) -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    (tmp_path / "self-cgroup").write_text(proc)
    return root, tmp_path / "self-cgroup"


@pytest.mark.parametrize(
    ("proc", "files", "expected"),
    [
        # a container with its own cgroup namespace (v2): its limit sits at the root
        ("0::/\n", {"memory.max": "268435456\n"}, 268435456),
        ("0::/\n", {"memory.max": "max\n"}, None),
        # a host process in a v2 sub-group: the sub-group's limit, not the root's
        ("0::/kubepods/pod1/c1\n", {"kubepods/pod1/c1/memory.max": "134217728\n", "memory.max": "max\n"}, 134217728),
        # cgroup v1 (or hybrid: the memory controller on v1, the rest on v2)
        ("4:memory:/\n0::/\n", {"memory/memory.limit_in_bytes": "536870912\n"}, 536870912),
        ("4:memory:/\n", {"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),  # v1's "no limit"
        ("5:cpu,memory:/job\n", {"memory/job/memory.limit_in_bytes": "1073741824"}, 1073741824),
        # nothing readable: no limit known
        ("0::/\n", {}, None),
        ("garbage\n", {"memory.max": "12"}, None),
        ("0::/\n", {"memory.max": "not a number"}, None),
    ],
)
def test_the_memory_limit_comes_from_the_process_cgroup(
    tmp_path: Path, proc: str, files: dict[str, str], expected: int | None
) -> None:
    root, self_cgroup = cgroups(tmp_path, proc, files)
    assert memory_limit_bytes(root, self_cgroup) == expected


def test_no_cgroup_file_at_all_is_no_limit(tmp_path: Path) -> None:
    assert memory_limit_bytes(tmp_path / "none", tmp_path / "no-such-file") is None


def test_the_limit_series_is_read_at_every_scrape_and_absent_without_a_limit() -> None:
    limits: list[int | None] = [268435456, None, 536870912]
    registry = CollectorRegistry()
    registry.register(MemoryLimitCollector(lambda: limits.pop(0)))
    assert b"esml_process_memory_limit_bytes 2.68435456e+08" in generate_latest(registry)
    assert b"esml_process_memory_limit_bytes" not in generate_latest(registry)
    assert b"esml_process_memory_limit_bytes 5.36870912e+08" in generate_latest(registry)


async def test_the_operator_serves_its_resident_memory_and_its_status_writes() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube)
    try:
        assert value(scrape(op), "esml_status_writes_total") == 0
        op.runtime.observe("ADDED", resource("ner", URL, numberOfAllocations=2))
        await until(lambda: kube.patches, what="a status write")
        await until(lambda: not op.runtime.queue.running, what="idle")
        samples = scrape(op)
        assert value(samples, "esml_status_writes_total") == len(kube.patches) == op.writer.writes > 0
        rss = value(samples, "process_resident_memory_bytes")
        assert rss is not None and rss > 10 * 1024 * 1024  # a Python process with the operator loaded
    finally:
        await op.close()


async def test_the_reaction_time_runs_from_the_watch_event_to_the_end_of_the_pass_that_read_it() -> None:
    es, kube = FakeES(), FakeKube()
    op = operator_for({URL: es}, kube)
    try:
        op.runtime.observe("ADDED", resource("ner", URL, numberOfAllocations=2))
        await until(lambda: value(scrape(op), "esml_reconcile_reaction_seconds_count") == 1, what="one reaction")
        await until(lambda: not op.runtime.queue.running, what="idle")
        samples = scrape(op)
        assert value(samples, "esml_reconcile_reaction_seconds_count") == 1  # follow-up passes are not reactions
        passes = value(samples, "esml_reconcile_duration_seconds_count")
        assert passes is not None and passes >= 1
        # the same body again (no new generation): no pass is needed, so no reaction
        op.runtime.observe("MODIFIED", resource("ner", URL, numberOfAllocations=2))
        op.runtime.observe("MODIFIED", resource("ner", URL, generation=2, numberOfAllocations=3))
        await until(lambda: value(scrape(op), "esml_reconcile_reaction_seconds_count") == 2, what="a second reaction")
        reaction = value(scrape(op), "esml_reconcile_reaction_seconds_sum")
        assert reaction is not None and 0 < reaction < 5
    finally:
        await op.close()
