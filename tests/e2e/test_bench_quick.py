"""`make bench QUICK=1` produces every figure (value, unit, target, floor or baseline) and leaves no process behind.

No timing is asserted: the figures depend on the machine. The bench starts
its own control plane, simulators and operators under ``tmp_path``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.runner import REPO

FIGURES = {1, 2, 3, 4, 5, 6, 7}
FAILOVER = 4


def leftovers(marker: str) -> list[str]:
    """Command lines of live processes that mention ``marker`` (the bench's work directory)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append(f"{proc.name}: {cmdline[:200]}")
    return found


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    base = tmp_path_factory.mktemp("bench")
    out, workdir = base / "results.json", base / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--workdir", str(workdir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    return proc, out, workdir


def check_row(number: int, row: dict[str, Any]) -> None:
    where = f"figure {number} row {row.get('metric')!r}"
    assert isinstance(row["metric"], str) and row["metric"], where
    assert isinstance(row["value"], int | float) and math.isfinite(row["value"]), where
    assert isinstance(row["unit"], str) and row["unit"], where
    assert isinstance(row["reference"], int | float) and not math.isnan(row["reference"]), where
    assert row["reference_kind"] in ("floor", "baseline"), where
    assert isinstance(row["reference_what"], str) and row["reference_what"], where
    if row["target"] is not None:
        assert isinstance(row["limit"], int | float), where
        assert isinstance(row["met"], bool), where


@pytest.mark.timeout(1560)
def test_quick_bench_produces_every_figure(quick_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    proc, out, workdir = quick_run
    assert proc.returncode == 0, f"bench failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(out.read_text())
    assert results["meta"]["command"] == "make bench QUICK=1"
    figures = {f["number"]: f for f in results["figures"]}
    assert set(figures) == FIGURES
    for number, figure in figures.items():
        if not figure["measured"]:
            # Only failover may be missing, and only because the operator does not elect a leader.
            assert number == FAILOVER and figure["reason"].startswith("leader election not wired"), figure
            continue
        assert figure["rows"], f"figure {number} has no rows"
        for row in figure["rows"]:
            check_row(number, row)
        assert any(row["target"] is not None for row in figure["rows"]), f"figure {number} has no target"
    for number in FIGURES:
        assert f"\n{number}. " in proc.stdout, f"figure {number} missing from the printed table"
    assert not leftovers(str(workdir)), "the bench left processes running"
