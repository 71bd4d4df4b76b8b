"""The README's settings table documents every setting (flag, environment variable, default)."""

from __future__ import annotations

from esml_operator.settings import Settings
from harness.runner import REPO


def _row(flag: str, env: str, default: str, help: str) -> str:
    shown = f"`{default}`" if default else "(none)"
    meaning = help.replace("|", "\\|")
    return f"| `{flag}` | `{env}` | {shown} | {meaning} |"


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (REPO / "README.md").read_text()
    lines = readme.splitlines()
    problems = []
    for flag, env, default, _help in Settings.describe():
        rows = [line for line in lines if line.startswith(f"| `{flag}` |")]
        if not rows:
            problems.append(f"no row for {flag}")
            continue
        row = rows[0]
        if f"`{env}`" not in row:
            problems.append(f"{flag}: the row does not name {env}")
        shown = f"`{default}`" if default else "(none)"
        if f"| {shown} |" not in row:
            problems.append(f"{flag}: the row does not show the default {shown}")
    expected = "\n".join(_row(*row) for row in Settings.describe())
    assert not problems, (
        "README.md's settings table is out of date: " + "; ".join(problems) + f"\nExpected rows:\n{expected}"
    )


def test_every_flag_and_variable_appears_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for flag, env, _default, _help in Settings.describe():
        assert flag in readme, flag
        assert env in readme, env
