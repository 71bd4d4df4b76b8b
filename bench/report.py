"""``python -m bench.report [results.json]``: the figures as a Markdown table (for docs/performance.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.figures import fmt_number


def markdown(results: dict[str, Any]) -> str:
    meta = results["meta"]
    machine = meta["machine"]
    lines = [
        f"`{meta['command']}` at commit `{meta['commit']}`, {meta['date']}, {meta['seconds']:.0f} s; "
        f"{machine['cpus']} CPUs ({machine['cpu_model'] or 'unknown model'}), {machine['memory_gib']} GiB, "
        f"Python {machine['python']}.",
        "",
        "| figure | metric | value | target | floor / baseline | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for fig in results["figures"]:
        name = f"{fig['number']}. {fig['key']}"
        if not fig["measured"]:
            lines.append(f"| {name} | | not measured: {fig['reason']} | | | |")
            continue
        for row in fig["rows"]:
            value = (">= " if row["lower_bound"] else "") + f"{fmt_number(row['value'])} {row['unit']}"
            ref = f"{fmt_number(row['reference'])} {row['unit']} ({row['reference_kind']})"
            verdict = "" if row["met"] is None else ("ok" if row["met"] else "**MISSED**")
            lines.append(f"| {name} | {row['metric']} | {value} | {row['target'] or ''} | {ref} | {verdict} |")
            name = ""
    notes = [f"* [{fig['number']}] {note}" for fig in results["figures"] for note in fig["notes"]]
    return "\n".join(lines + (["", *notes] if notes else []))


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path(__file__).with_name("results.json")
    print(markdown(json.loads(path.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
