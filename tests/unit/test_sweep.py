"""The resync sweep (controller/sweep.py): one sweep per cluster, busy resources skipped, a failed check queues a
pass, and a cluster still being swept is not swept twice."""

from __future__ import annotations

import asyncio

from esml_operator.controller.memory import Entry, Quiet
from esml_operator.controller.sweep import Sweeper
from esml_operator.elasticsearch.connections import ConnectionConfig
from esml_operator.elasticsearch.models import ClusterInfo, EsVersion
from tests.unit.runtime_fakes import until

INFO = ClusterInfo(EsVersion.parse("9.2.0"), cluster_uuid="u")


def _entry(uid: str, url: str | None) -> Entry:
    body = {"metadata": {"uid": uid, "name": uid, "namespace": "ns", "resourceVersion": "1", "generation": 1}}
    quiet = None if url is None else Quiet("1", 1, None, ConnectionConfig(url=url), INFO, 0, ())
    return Entry(uid=uid, body=body, generation=1, quiet=quiet)


async def test_quiet_entries_are_checked_per_cluster_and_only_changed_ones_queued() -> None:
    checked: list[str] = []

    async def check(entry: Entry) -> bool:
        checked.append(entry.uid)
        if entry.uid == "broken":
            raise RuntimeError("a Secret could not be read")
        return entry.uid != "drifted"

    entries = [
        _entry("new", None),
        _entry("steady", "https://a:9200"),
        _entry("drifted", "https://a:9200"),
        _entry("broken", "https://b:9200"),
        _entry("running", "https://b:9200"),
    ]
    queued: list[str] = []
    sweeper = Sweeper(check)
    sweeper.round(entries, queued.append, lambda uid: uid == "running")
    assert queued == ["new"]  # no mark: a pass at once
    await until(lambda: len(checked) == 3, what="the sweeps")
    await sweeper.close()
    assert sorted(checked) == ["broken", "drifted", "steady"]  # "running" has a pass under way
    assert sorted(queued) == ["broken", "drifted", "new"]


async def test_a_cluster_whose_sweep_still_waits_is_not_swept_again() -> None:
    release = asyncio.Event()
    calls: list[str] = []

    async def check(entry: Entry) -> bool:
        calls.append(entry.uid)
        await release.wait()  # the cluster's poll hangs
        return True

    sweeper = Sweeper(check)
    entries = [_entry("a", "https://a:9200")]
    sweeper.round(entries, lambda uid: None, lambda uid: False)
    await until(lambda: calls == ["a"], what="the first sweep")
    sweeper.round(entries, lambda uid: None, lambda uid: False)  # the next round, the poll still hanging
    release.set()
    await sweeper.close()
    assert calls == ["a"]
    sweeper.round(entries, lambda uid: None, lambda uid: False)  # once it ended, the next round sweeps again
    await until(lambda: calls == ["a", "a"], what="a new sweep")
    await sweeper.close()
