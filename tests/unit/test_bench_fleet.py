"""bench.fig_fleet: figure 7's rows compare against the naive operator at the same count, with issue 20's targets."""

from __future__ import annotations

from bench.fig_fleet import fleet_rows, namespaces_for, per_resource_row
from bench.fig_scale import Steady


def _steady(rss: float, cpu: float, per_interval: list[float], writes: dict[str, int]) -> Steady:
    return Steady(per_interval, 0.0, 0, writes, 60.0, rss, rss, cpu)


def test_each_clusters_resources_share_a_namespace() -> None:
    assert namespaces_for(100, 10) == [f"bench-fleet-{i:02d}" for i in range(10)]
    assert namespaces_for(10, 4) == ["bench-fleet-00", "bench-fleet-01", "bench-fleet-02"]
    assert namespaces_for(1, 10) == ["bench-fleet-00"]


def test_targets_against_the_naive_operator() -> None:
    naive = _steady(150.0, 20.0, [100.0, 100.0], {})
    good = fleet_rows(_steady(170.0, 4.0, [1.0, 1.02], {}), naive, 200.0, 60.0, False, 10_000)
    assert [r.met for r in good] == [True, True, True, True, True]
    bad = fleet_rows(_steady(200.0, 12.0, [2.0, 2.0], {"modeldeployments/status": 3}), naive, 301.0, 60.0, True, 10)
    assert [r.met for r in bad] == [False, False, False, False, False]
    assert bad[0].lower_bound and bad[1].limit == 180.0


def test_kilobytes_per_resource() -> None:
    row = per_resource_row(ours_mb=90.0, naive_mb=30.0, total=1000)
    assert (round(row.value, 2), round(row.reference, 2), round(row.ratio or 0, 2)) == (92.16, 30.72, 3.0)
