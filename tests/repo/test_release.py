"""The release procedure (scripts/release, ``make release``) and the one-version rule.

The repository's own sites must agree with pyproject.toml and with CHANGELOG.md's
newest release; the procedure itself runs in a throw-away git repository made from
this tree's version-bearing files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from scripts.release import changelog, git, versions
from scripts.release.__main__ import main

REPO = Path(__file__).resolve().parents[2]
DATE = "2031-02-03"
NEXT = "9.8.7"
# Files whose mentions of a version are not the project's version: lock files pin other packages.
NOT_OURS = ("CHANGELOG.md", "requirements/")
ENTRY = "- A thing users notice."


def run_git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository holding this tree's version sites and CHANGELOG, one entry unreleased, tested."""
    root = tmp_path / "repo"
    for rel in [*(site.path for site in versions.SITES), "CHANGELOG.md"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / rel, root / rel)
    text = (root / "CHANGELOG.md").read_text()
    start = text.index(changelog.UNRELEASED)
    released_at = text.index("\n## [", start)
    unreleased = f"{changelog.UNRELEASED}\n\n### Added\n{ENTRY}\n\n### Changed\n\n### Fixed\n"
    (root / "CHANGELOG.md").write_text(text[:start] + unreleased + text[released_at:])
    (root / ".gitignore").write_text(".local/\n")
    run_git(root, "init", "--quiet", "--initial-branch=main")
    for key, value in [("user.name", "Release Test"), ("user.email", "release@example.invalid")]:
        run_git(root, "config", key, value)
    run_git(root, "config", "commit.gpgsign", "false")
    run_git(root, "config", "tag.gpgsign", "false")
    run_git(root, "add", "--all")
    run_git(root, "commit", "--quiet", "-m", "the tree before the release")
    assert main(["--root", str(root), "mark-tested"]) == 0
    return root


def snapshot(root: Path) -> dict[str, str]:
    return {p: (root / p).read_text() for p in run_git(root, "ls-files").splitlines()}


def test_every_version_site_agrees_with_pyproject_and_the_newest_changelog_section() -> None:
    version = versions.current(REPO)
    assert changelog.released((REPO / "CHANGELOG.md").read_text())[0] == version


def test_every_mention_of_the_version_in_the_repository_is_a_site_the_release_rewrites() -> None:
    version = versions.current(REPO)
    paths = [p for p in git.tracked(REPO) if not p.startswith(NOT_OURS) and (REPO / p).is_file()]
    assert versions.uncovered(REPO, paths, version) == []


def test_a_mention_outside_the_sites_is_reported(repo: Path) -> None:
    (repo / "docs").mkdir(exist_ok=True)
    (repo / "docs" / "x.md").write_text("install esml-operator 3.4.5\nnot 13.4.5 nor 3.4.5.1\n")
    (repo / "pyproject.toml").write_text('version = "3.4.5"\n')
    assert versions.uncovered(repo, ["docs/x.md", "pyproject.toml"], "3.4.5") == ["docs/x.md:1"]


def test_dry_run_shows_the_release_and_changes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, head = snapshot(repo), run_git(repo, "rev-parse", "HEAD")
    assert main(["--root", str(repo), "cut", NEXT, "--date", DATE]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert f"+## [{NEXT}] - {DATE}" in out
    assert f'+version = "{NEXT}"' in out
    assert f"+          image: esml-operator:{NEXT}" in out
    assert "Dry run: nothing was changed" in out
    assert snapshot(repo) == before
    assert run_git(repo, "rev-parse", "HEAD") == head
    assert run_git(repo, "tag", "--list") == ""


def test_apply_sets_one_version_everywhere_cuts_the_changelog_commits_and_tags(repo: Path) -> None:
    old = versions.current(repo)
    assert main(["--root", str(repo), "cut", NEXT, "--date", DATE, "--apply"]) == 0
    assert versions.current(repo) == NEXT
    assert versions.uncovered(repo, [s.path for s in versions.SITES], old) == []
    text = (repo / "CHANGELOG.md").read_text()
    assert changelog.released(text)[:2] == [NEXT, old]
    assert changelog.section(text, NEXT) == f"### Added\n{ENTRY}"
    assert changelog.unreleased_entries(text) == ""
    assert text.count(changelog.EMPTY_UNRELEASED) == 1
    assert git.dirty(repo) == []
    assert run_git(repo, "log", "-1", "--format=%s") == f"Release {NEXT}"
    assert run_git(repo, "cat-file", "-t", f"v{NEXT}") == "tag"
    assert run_git(repo, "rev-parse", f"v{NEXT}^{{commit}}") == run_git(repo, "rev-parse", "HEAD")
    assert ENTRY in run_git(repo, "tag", "-l", "--format=%(contents)", f"v{NEXT}")
    # the release commit touched exactly the version sites and the changelog
    touched = set(run_git(repo, "show", "--name-only", "--format=", "HEAD").splitlines())
    assert touched == {"CHANGELOG.md", *(s.path for s in versions.SITES)}


def test_the_chart_version_and_app_version_are_the_release_version(repo: Path) -> None:
    chart = repo / "charts" / "esml-operator" / "Chart.yaml"
    old = versions.current(repo)
    chart.write_text(f'apiVersion: v2\nname: esml-operator\nversion: {old}\nappVersion: "{old}"\n')
    run_git(repo, "add", "--all")
    run_git(repo, "commit", "--quiet", "-m", "chart")
    assert main(["--root", str(repo), "mark-tested"]) == 0
    assert main(["--root", str(repo), "cut", NEXT, "--date", DATE, "--apply"]) == 0
    assert chart.read_text() == f'apiVersion: v2\nname: esml-operator\nversion: {NEXT}\nappVersion: "{NEXT}"\n'


def break_sites(repo: Path) -> None:
    path = repo / "manifests" / "base" / "kustomization.yaml"
    path.write_text(path.read_text().replace(f"newTag: {versions.current(repo)}", "newTag: 0.0.9"))
    run_git(repo, "commit", "--quiet", "-am", "a stale tag")
    main(["--root", str(repo), "mark-tested"])


def dirty_tree(repo: Path) -> None:
    (repo / "new-file.txt").write_text("work in progress\n")


def empty_changelog(repo: Path) -> None:
    path = repo / "CHANGELOG.md"
    path.write_text(path.read_text().replace(ENTRY + "\n", ""))
    run_git(repo, "commit", "--quiet", "-am", "nothing to release")
    main(["--root", str(repo), "mark-tested"])


def untested_commit(repo: Path) -> None:
    run_git(repo, "commit", "--quiet", "--allow-empty", "-m", "after the last green make test")


def existing_tag(repo: Path) -> None:
    run_git(repo, "tag", f"v{NEXT}")


@pytest.mark.parametrize(
    ("spoil", "version", "failure"),
    [
        (break_sites, NEXT, "manifests/base/kustomization.yaml says 0.0.9"),
        (dirty_tree, NEXT, "uncommitted changes: new-file.txt"),
        (empty_changelog, NEXT, "no entries: nothing to release"),
        (untested_commit, NEXT, "`make test` has not passed on HEAD"),
        (existing_tag, NEXT, f"tag v{NEXT} exists"),
        (None, "0.0.1", "is not newer than the current"),
        (None, "1.2", "not a version of the form MAJOR.MINOR.PATCH"),
        (None, "1.2.3-rc.1", "not a version of the form MAJOR.MINOR.PATCH"),
    ],
    ids=["sites-disagree", "dirty-tree", "empty-unreleased", "untested", "tag-exists", "older", "short", "pre-release"],
)
def test_a_release_that_fails_a_check_is_refused_and_changes_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str], spoil: object, version: str, failure: str
) -> None:
    if callable(spoil):
        spoil(repo)
    before, head = snapshot(repo), run_git(repo, "rev-parse", "HEAD")
    tags = run_git(repo, "tag", "--list")
    assert main(["--root", str(repo), "cut", version, "--date", DATE, "--apply"]) == 1
    assert failure in capsys.readouterr().out
    assert snapshot(repo) == before
    assert run_git(repo, "rev-parse", "HEAD") == head
    assert run_git(repo, "tag", "--list") == tags


def test_mark_tested_marks_a_clean_head_and_never_a_dirty_tree(repo: Path) -> None:
    assert git.tested_commit(repo) == run_git(repo, "rev-parse", "HEAD")
    dirty_tree(repo)
    assert main(["--root", str(repo), "mark-tested"]) == 0
    assert git.tested_commit(repo) is None


def test_cut_keeps_only_headings_with_entries_and_leaves_older_sections_alone() -> None:
    text = (
        "# Changelog\n\n## [Unreleased]\n\n### Added\n- a\n- b\n\n### Changed\n\n### Fixed\n- c\n\n"
        "## [1.0.0] - 2030-01-01\n\n### Added\n- old\n"
    )
    assert changelog.cut(text, "1.1.0", DATE) == (
        "# Changelog\n\n## [Unreleased]\n\n### Added\n\n### Changed\n\n### Fixed\n\n"
        f"## [1.1.0] - {DATE}\n\n### Added\n- a\n- b\n\n### Fixed\n- c\n\n"
        "## [1.0.0] - 2030-01-01\n\n### Added\n- old\n"
    )
    with pytest.raises(changelog.ChangelogError, match=r"already has a section for 1\.0\.0"):
        changelog.cut(text, "1.0.0", DATE)
