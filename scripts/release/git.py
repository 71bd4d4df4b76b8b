"""The few git operations a release needs, and the marker ``make test`` leaves for it."""

from __future__ import annotations

import subprocess
from pathlib import Path

# Written by `make test` when the whole suite passed on a clean tree: the commit it passed on.
TESTED_MARKER = Path(".local") / "tests-passed"


class GitError(Exception):
    """A git command failed."""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.rstrip()


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD")


def dirty(root: Path) -> list[str]:
    """``git status --porcelain`` lines: changed, staged or untracked (not ignored) paths."""
    return [line for line in git(root, "status", "--porcelain").splitlines() if line]


def has_tag(root: Path, tag: str) -> bool:
    return bool(git(root, "tag", "--list", tag))


def tracked(root: Path) -> list[str]:
    return git(root, "ls-files").splitlines()


def tested_commit(root: Path) -> str | None:
    marker = root / TESTED_MARKER
    return marker.read_text(encoding="utf-8").strip() if marker.exists() else None


def mark_tested(root: Path) -> str:
    """Record that the suite passed on HEAD; on a dirty tree record nothing (the run proves no commit)."""
    if dirty(root):
        (root / TESTED_MARKER).unlink(missing_ok=True)
        return "tests passed on a tree with uncommitted changes: no commit marked as tested"
    commit = head(root)
    (root / TESTED_MARKER).parent.mkdir(parents=True, exist_ok=True)
    (root / TESTED_MARKER).write_text(commit + "\n", encoding="utf-8")
    return f"tests passed on {commit}: marked in {TESTED_MARKER}"


def commit_and_tag(root: Path, paths: list[str], version: str, notes: str) -> str:
    """Commit exactly ``paths`` and put the annotated tag ``v<version>`` on that commit."""
    git(root, "add", "--", *paths)
    git(root, "commit", "--quiet", "-m", f"Release {version}", "--", *paths)
    git(root, "tag", "--annotate", f"v{version}", "-m", f"esml-operator {version}\n\n{notes}")
    return head(root)
