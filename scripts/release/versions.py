"""Every place that names the project's own version, read and rewritten together.

``pyproject.toml``'s ``[project] version`` is the source; every other site must
agree with it. A site is a file and a pattern whose group ``v`` is the version;
all of a site's matches are rewritten at a release. ``tests/unit/test_release.py``
fails when the current version appears in a tracked file outside these sites, so
a new mention cannot go stale unnoticed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

VERSION = r"\d+\.\d+\.\d+"
_V = rf"(?P<v>{VERSION})"
SOURCE = "pyproject.toml"


@dataclass(frozen=True)
class Site:
    path: str
    pattern: str

    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.MULTILINE)


# Mentions in documentation: an image tag, a kustomize newTag, a git ref or a shell variable.
_DOC = rf"(?:esml-operator:|newTag: \"?|ref=v|checkout v|VERSION=|tag: v){_V}"

SITES: tuple[Site, ...] = (
    Site(SOURCE, rf'^version = "{_V}"$'),
    Site("operator/esml_operator/__init__.py", rf'^__version__ = "{_V}"$'),
    # The simulator is its own distribution, released with the operator under the same version.
    Site("simulator/pyproject.toml", rf'^version = "{_V}"$'),
    Site("manifests/base/kustomization.yaml", rf"^    newTag: \"?{_V}\"?$"),
    Site("manifests/base/deployment.yaml", rf"image: esml-operator:{_V}$"),
    Site("tests/golden/install.yaml", rf"image: esml-operator:{_V}$"),
    Site("manifests/flux/esml-operator.yaml", rf"^    tag: v{_V}$"),
    Site("Dockerfile", rf"esml-operator:{_V}"),
    Site("README.md", _DOC),
    Site("manifests/README.md", _DOC),
    Site("docs/operations/install.md", _DOC),
    Site("charts/esml-operator/Chart.yaml", rf"^(?:version|appVersion): \"?{_V}\"?$"),
    # `helm template` of the default chart: the chart label, the app version label and the image.
    Site(
        "tests/golden/helm-template.yaml",
        rf"(?:helm.sh/chart: esml-operator-|version: \"|esml-operator:){_V}",
    ),
)


class VersionError(Exception):
    """A site is missing, names no version, or the sites disagree."""


def site_versions(root: Path, site: Site) -> list[str]:
    """The versions a site names (one per match)."""
    path = root / site.path
    if not path.exists():
        raise VersionError(f"{site.path}: missing (it names the version)")
    found = [m.group("v") for m in site.regex().finditer(path.read_text(encoding="utf-8"))]
    if not found:
        raise VersionError(f"{site.path}: no version matches {site.pattern!r}")
    return found


def current(root: Path) -> str:
    """The version every site agrees on (pyproject.toml's); VersionError names each site that differs."""
    version = site_versions(root, SITES[0])[0]
    wrong = []
    for site in SITES:
        found = site_versions(root, site)
        if set(found) != {version}:
            wrong.append(f"{site.path} says {', '.join(sorted(set(found)))}")
    if wrong:
        raise VersionError(f"{SOURCE} says {version}, but " + "; ".join(wrong))
    return version


def rewrite(root: Path, new: str) -> dict[str, tuple[str, str]]:
    """``path -> (old text, new text)`` for every site's file, with each match set to ``new``."""

    def put(m: re.Match[str]) -> str:
        start, end = m.span("v")
        return m.group(0)[: start - m.start()] + new + m.group(0)[end - m.start() :]

    changes: dict[str, tuple[str, str]] = {}
    for site in SITES:
        path = root / site.path
        old = changes[site.path][1] if site.path in changes else path.read_text(encoding="utf-8")
        before = changes[site.path][0] if site.path in changes else old
        changes[site.path] = (before, site.regex().sub(put, old))
    return changes


def parse(version: str) -> tuple[int, int, int]:
    if not re.fullmatch(VERSION, version):
        raise VersionError(f"{version!r} is not a version of the form MAJOR.MINOR.PATCH (digits only)")
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def uncovered(root: Path, paths: list[str], version: str) -> list[str]:
    """``path:line`` of each mention of ``version`` in ``paths`` that no site matches."""
    token = re.compile(rf"(?<![\d.]){re.escape(version)}(?!\.?\d)")
    by_path: dict[str, list[Site]] = {}
    for site in SITES:
        by_path.setdefault(site.path, []).append(site)
    missed = []
    for rel in paths:
        text = (root / rel).read_text(encoding="utf-8", errors="replace")
        covered = {m.start("v") for site in by_path.get(rel, []) for m in site.regex().finditer(text)}
        for m in token.finditer(text):
            if m.start() not in covered:
                missed.append(f"{rel}:{text.count(chr(10), 0, m.start()) + 1}")
    return missed
