"""Plan a release (checks and file changes), show it, and carry it out.

A plan is computed the same way for the dry run and for ``--apply``; apply
refuses a plan with a failed check.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scripts.release import changelog, git, versions

CHANGELOG = "CHANGELOG.md"


@dataclass
class Plan:
    version: str
    date: str
    # (what is checked, why it failed or None)
    checks: list[tuple[str, str | None]] = field(default_factory=list)
    # path -> (old text, new text)
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(failure is None for _, failure in self.checks)

    def check(self, what: str, test: Callable[[], str | None]) -> None:
        try:
            failure = test()
        except (versions.VersionError, changelog.ChangelogError, git.GitError) as exc:
            failure = str(exc)
        self.checks.append((what, failure))


def make_plan(root: Path, version: str, date: str) -> Plan:
    plan = Plan(version, date)
    old: list[str] = []

    def agree() -> str | None:
        old.append(versions.current(root))
        return None

    def newer() -> str | None:
        if not old:
            return "the current version is unknown (see above)"
        if versions.parse(version) <= versions.parse(old[0]):
            return f"{version} is not newer than the current {old[0]}"
        return None

    def clean() -> str | None:
        paths = git.dirty(root)
        return f"uncommitted changes: {', '.join(line[3:] for line in paths[:5])}" if paths else None

    def tested() -> str | None:
        marked, head = git.tested_commit(root), git.head(root)
        if marked == head:
            return None
        return f"`make test` has not passed on HEAD {head[:12]} (last passed: {(marked or 'never')[:12]})"

    plan.check("the version sites agree", agree)
    plan.check(f"{version} is a newer MAJOR.MINOR.PATCH", newer)
    plan.check("the work tree is clean", clean)
    plan.check(f"no tag v{version} yet", lambda: f"tag v{version} exists" if git.has_tag(root, f"v{version}") else None)
    plan.check("make test passed on HEAD", tested)

    def changes() -> str | None:
        text = (root / CHANGELOG).read_text(encoding="utf-8")
        plan.changes = {CHANGELOG: (text, changelog.cut(text, version, date))}
        plan.changes.update(versions.rewrite(root, version))
        return None

    plan.check("[Unreleased] has entries to release", changes)
    return plan


def describe(plan: Plan) -> str:
    lines = [f"Release {plan.version} ({plan.date})", ""]
    for what, failure in plan.checks:
        lines.append(f"  {'ok  ' if failure is None else 'FAIL'} {what}" + (f": {failure}" if failure else ""))
    lines.append("")
    for path, (old, new) in plan.changes.items():
        lines.extend(
            difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{path}", f"b/{path}", n=1, lineterm="")
        )
    lines += ["", f"then: git commit -m 'Release {plan.version}' -- <the files above>; git tag -a v{plan.version}"]
    return "\n".join(lines)


def apply(root: Path, plan: Plan) -> str:
    """Write the files, commit them and tag the commit; the plan must be ok."""
    if not plan.ok:
        raise git.GitError("refusing to release: a check failed")
    for path, (_, new) in plan.changes.items():
        (root / path).write_text(new, encoding="utf-8")
    notes = changelog.section(plan.changes[CHANGELOG][1], plan.version)
    return git.commit_and_tag(root, sorted(plan.changes), plan.version, notes)
