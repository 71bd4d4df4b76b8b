"""ruff's layout is the layout: at most 30 ``# fmt: skip`` / ``# fmt: off`` markers, each with its reason.

A marker says why on its own line, after it: ``)  # fmt: skip  # the table reads as a table`` (ruff honours a
comment after the marker). Issue 19 found 169 markers without reasons; the budget keeps them rare.
"""

from __future__ import annotations

import re
import subprocess

from harness.runner import REPO

BUDGET = 30
MARKER = re.compile(r"#\s*fmt:\s*(?:skip|off)\b(?P<rest>.*)$")
REASON = re.compile(r"^\s*#\s*\S")


def markers() -> list[tuple[str, int, str]]:
    """(path, line number, text after the marker) of every marker in the Python files git tracks."""
    files = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert len(files) > 100, "git ls-files found too few Python files: is this a clone?"
    found = []
    for name in files:
        for number, line in enumerate((REPO / name).read_text(encoding="utf-8").splitlines(), 1):
            if (match := MARKER.search(line)) and name != "tests/repo/test_fmt_skip.py":
                found.append((name, number, match["rest"]))
    return found


def test_at_most_thirty_markers() -> None:
    found = markers()
    assert len(found) <= BUDGET, f"{len(found)} fmt: skip/off markers (budget {BUDGET}): {found}"


def test_every_marker_says_why() -> None:
    silent = [f"{path}:{number}" for path, number, rest in markers() if not REASON.match(rest)]
    assert not silent, f"fmt: skip/off without a reason after it: {silent}"


def test_the_patterns_find_what_they_should() -> None:
    assert MARKER.search("x = 1  # fmt: skip  # aligned columns")["rest"] == "  # aligned columns"  # type: ignore[index]
    assert not REASON.match(MARKER.search("x = 1  # fmt: skip")["rest"])  # type: ignore[index]
    assert MARKER.search("# fmt: off") and not MARKER.search("# fmt: skipped")
