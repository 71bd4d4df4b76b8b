"""``make bench``: the operator as a black box on a real API server, real operator processes and simulators.

Seven figures, each beside its target and a floor or baseline measured in the same run:

1. reaction latency: /scale PATCH acknowledged -> ``_update`` received (p50/p95/p99), against a bare watch client;
   the changes over 100 ms and their causes (``bench/tail.py``); what one change costs: API writes, the watch
   events the operator's own writes cause, ES requests (``bench/cost.py``); the full run also at
   ``--resync-interval 5``
2. scale: N ModelDeployments on M clusters (time to Ready, ES requests, API writes, RSS, idle CPU), against a naive
   per-resource poller (``bench/naive_operator.py``)
3. restart: SIGKILL with N idle resources, start again; a change made meanwhile -> ``_update``, counted from the
   new process's start, without leader election and with it (a replacement pod, a restarted container:
   ``bench/fig_restart.py``)
4. failover: two replicas with leader election, SIGKILL the leader
5. churn: 500 /scale changes to one resource in 5 s
6. isolation: reaction latency on a healthy cluster from the moment another cluster goes dark (accepts
   connections, never answers) while that cluster's resources are still timing out (``bench/fig_isolation.py``)
7. fleet: 10,000 ModelDeployments on 100 clusters (QUICK: 100 on 10), against the naive kopf operator at the
   same count: apply -> all Ready, RSS and KB per resource, idle CPU, ES requests per resync interval per
   cluster, steady API writes (``bench/fig_fleet.py``; ``--profile-memory DIR`` says where the memory goes)

``python -m bench`` (``make bench``) runs the full sizes (figures 1-6 < 15 min on 2 cores; figure 7's 10,000
resources not yet timed on a quiet machine) and writes ``bench/results.json``; ``python -m bench --quick``
(``make bench QUICK=1``) runs smaller ones and writes ``.local/bench/results-quick.json``. A missed target is
marked MISSED; the exit status is non-zero only when a figure could not be produced. Logs of every process stay
in ``.local/bench/run`` until the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import procs
from bench.fig_failover import failover
from bench.fig_fleet import fleet
from bench.fig_isolation import isolation
from bench.fig_latency import latency_and_churn
from bench.fig_scale import scale_restart
from bench.figures import Figure, table
from bench.run import FULL, QUICK, Run, Sizes
from harness.runner import REPO, ControlPlane

Scenario = Callable[[Run], Awaitable[list[Figure]]]
# Figure 6 compares against figure 1, so it runs after it. Scale and the fleet run last: they are the longest.
SCENARIOS: list[tuple[tuple[int, ...], Scenario]] = [
    ((1, 5), latency_and_churn),
    ((6,), isolation),
    ((4,), failover),
    ((2, 3), scale_restart),
    ((7,), fleet),
]
TITLES = {1: "reaction_latency", 2: "scale", 3: "restart", 4: "failover", 5: "churn", 6: "isolation", 7: "fleet"}


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
    }


def commit() -> str:
    proc = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


async def run_all(sizes: Sizes, workdir: Path, fleet: procs.Fleet, plane: ControlPlane, only: set[int]) -> list[Figure]:
    run = Run(sizes, workdir, fleet, plane)
    try:
        await run.start_watcher()
        figures: list[Figure] = []
        for numbers, scenario in SCENARIOS:
            if only and not only & set(numbers):
                continue
            names = ", ".join(map(str, numbers))
            print(f"bench: figures {names} ...", file=sys.stderr, flush=True)
            began = time.monotonic()
            try:
                figures += await scenario(run)
            except Exception as error:
                traceback.print_exc()
                for n in numbers:
                    figures.append(Figure(n, TITLES[n], TITLES[n], measured=False, reason=f"error: {error!r}"[:300]))
            print(f"bench: figures {names} took {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
        return sorted(figures, key=lambda f: f.number)
    finally:
        await run.aclose()


async def main(
    sizes: Sizes,
    out: Path,
    workdir: Path,
    only: set[int],
    source: Path | None,
    command: str,
    profile: Path | None,
    memory: Path | None = None,
) -> int:
    began = time.monotonic()
    current = asyncio.current_task()
    assert current is not None
    for signum in (signal.SIGTERM, signal.SIGINT):  # SIGINT too: a background job starts with it ignored
        asyncio.get_running_loop().add_signal_handler(signum, current.cancel)
    fleet = procs.Fleet(source, profile)
    fleet.memory_dir = memory
    plane = ControlPlane(workdir / "cluster")
    try:
        plane.start()
        figures = await run_all(sizes, workdir, fleet, plane, only)
    finally:
        fleet.stop_all()
        plane.cleanup()
    elapsed = time.monotonic() - began
    result = {
        "meta": {
            "command": command,
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": commit(),
            "operator_source": str(source) if source else "the installed package",
            "machine": machine(),
            "seconds": round(elapsed, 1),
            "sizes": {k: v for k, v in vars(sizes).items()},
        },
        "figures": [f.as_json() for f in figures],
    }
    write_results(out, result)
    print(table(figures))
    print(f"\n{'quick' if sizes.quick else 'full'} run in {elapsed:.0f} s; results in {out}")
    return 0 if all(f.measured or f.reason.startswith("leader election") for f in figures) else 1


def with_overrides(sizes: Sizes, assignments: list[str]) -> Sizes:
    changes: dict[str, Any] = {}
    for assignment in assignments:
        key, _, raw = assignment.partition("=")
        current = getattr(sizes, key, None)
        if current is None or isinstance(current, bool):
            raise SystemExit(f"--set: unknown size {key!r}")
        changes[key] = type(current)(raw)
    return dataclasses.replace(sizes, **changes)


def write_results(out: Path, result: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller sizes and windows (< 3 min)")
    parser.add_argument("--out", type=Path, help="results file (default: bench/results.json for a full run)")
    parser.add_argument("--workdir", type=Path, default=REPO / ".local" / "bench" / "run")
    parser.add_argument("--only", default="", help="comma-separated figure numbers (for development)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SIZE=VALUE",
        help="override one size for a trial, e.g. --set scale_clusters=10 (see bench/run.py Sizes)",
    )
    parser.add_argument(
        "--source", type=Path, help="run the operator and simulators from this package directory (another checkout)"
    )
    parser.add_argument(
        "--profile-memory",
        type=Path,
        metavar="DIR",
        help="run figure 7's operator under tracemalloc (bench/tracemem.py): where each resource's memory goes",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample figure 1's operator (DIR/op-latency.txt) and the steady windows of figures 2 and 7 "
        "(DIR/op-idle.txt, DIR/op-fleet-idle.txt) with py-spy (summarise: python -m bench.profile)",
    )
    args = parser.parse_args(argv)
    sizes = with_overrides(QUICK if args.quick else FULL, args.set)
    # Only a complete full run replaces the committed bench/results.json.
    trial = "results-quick.json" if args.quick else "results-trial.json" if args.only or args.set else ""
    out = args.out or (REPO / ".local" / "bench" / trial if trial else REPO / "bench" / "results.json")
    try:
        only = {int(n) for n in args.only.split(",") if n.strip()}
        shutil.rmtree(args.workdir, ignore_errors=True)
        args.workdir.mkdir(parents=True)
        source = args.source.resolve() if args.source else None
        command = " ".join(
            ["make bench QUICK=1" if args.quick else "make bench"]
            + [f"--set {a}" for a in args.set]
            + ([f"--only {args.only}"] if only else [])
        )
        profile = args.profile.resolve() if args.profile else None
        if profile:
            profile.mkdir(parents=True, exist_ok=True)
        memory = args.profile_memory.resolve() if args.profile_memory else None
        return asyncio.run(main(sizes, out, args.workdir.resolve(), only, source, command, profile, memory))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; every process it started is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(cli())
