"""Print the reliability table from the faults suite's records: ``python -m tests.faults.report [DIR]``.

``make reliability-report`` empties the results directory, runs ``make test-faults`` and then this.
The table is Markdown, so docs/reliability.md can quote it as printed.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.faults.records import load


def _sum(records: Iterable[dict[str, Any]], key: str) -> int:
    return sum(int(r.get(key) or 0) for r in records)


def _seconds(values: list[float]) -> str:
    if not values:
        return "not measured"
    if len(values) == 1:
        return f"{values[0]:.1f} s"
    return f"median {statistics.median(values):.1f} s, max {max(values):.1f} s ({len(values)} takeovers)"


def outage_lines(records: list[dict[str, Any]]) -> list[str]:
    lines = []
    for record in records:
        for outage in record.get("outages") or []:
            seconds = float(outage["seconds"])
            parts = [f"{outage['requests']} requests"]
            if outage.get("connects") is not None:
                parts.append(f"{outage['connects']} connection attempts")
            attempts = int(outage["requests"]) or int(outage.get("connects") or 0)  # a request needs a connection
            per_minute = attempts * 60 / seconds
            lines.append(f"{outage['name']}: {', '.join(parts)} in {seconds:.0f} s ({per_minute:.0f}/min)")
    return lines


def rows(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    scenarios = [r for r in records if r.get("scenario")]
    leaks = [r["leaks"] for r in records if r.get("leaks")]
    trials = [r["trials"] for r in records if r.get("trials")]
    gaps = [(float(g), r["scenario"]) for r in scenarios for g in r.get("gaps") or []]
    takeovers = [float(t) for r in scenarios for t in r.get("takeovers") or []]
    out = [
        ("Scenarios run", str(len(scenarios))),
        ("Faults injected", str(_sum(scenarios, "faults"))),
        ("Resources converged", f"{_sum(scenarios, 'converged')} of {_sum(scenarios, 'resources')}"),
    ]
    out += [("ES requests during an outage", line) for line in outage_lines(scenarios)] or [
        ("ES requests during an outage", "no outage recorded")
    ]
    if gaps:
        longest, where = max(gaps)
        out.append(("Longest reconcile gap", f"{longest:.1f} s ({where})"))
    else:
        out.append(("Longest reconcile gap", "not measured"))
    out.append(("Takeover time (SIGKILL of the leader)", _seconds(takeovers)))
    if trials:
        run, converged = _sum(trials, "run"), _sum(trials, "converged")
        seeds = ", ".join(str(t["seed"]) for t in trials)
        detail = (
            f"{converged} of {run} (seeds {seeds}; {_sum(trials, 'writes')} writes judged, "
            f"{_sum(trials, 'wrong')} wrong, {_sum(trials, 'repeats')} idempotent repeats, "
            f"{_sum(trials, 'regressions')} status regressions)"
        )
        out.append(("SIGKILL trials converged", detail))
    else:
        out.append(("SIGKILL trials converged", "not run"))
    repeats = [(int(r["repeats"]), r["scenario"]) for r in scenarios if r.get("repeats")]
    out.append(("Idempotent repeats elsewhere", ", ".join(f"{n} ({where})" for n, where in repeats) or "0"))
    places, scanned_bytes = sum(int(x["places"]) for x in leaks), sum(int(x["bytes"]) for x in leaks)
    scanned = f"{len(leaks)} scans, {places} places, {scanned_bytes:,} bytes"
    out.append(("Secrets leaked", f"{sum(int(x['hits']) for x in leaks)} ({scanned})"))
    return out


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| measure | result |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows(records)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    records = load(Path(argv[0]) if argv else None)
    if not records:
        print("no results recorded: run `make reliability-report` (or `make test-faults`) first", file=sys.stderr)
        return 1
    print(table(records))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
