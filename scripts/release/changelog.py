"""CHANGELOG.md (Keep a Changelog): cut ``[Unreleased]`` into a dated version section.

The new ``[Unreleased]`` keeps empty ``Added`` / ``Changed`` / ``Fixed`` headings for
the next changes; the released section keeps only the headings that have entries.
"""

from __future__ import annotations

import re

UNRELEASED = "## [Unreleased]"
_SECTION = re.compile(r"^## \[(?P<name>[^\]]+)\]", re.MULTILINE)
_SUBSECTION = re.compile(r"^### .*$", re.MULTILINE)
EMPTY_UNRELEASED = f"{UNRELEASED}\n\n### Added\n\n### Changed\n\n### Fixed\n\n"


class ChangelogError(Exception):
    """No [Unreleased] section, nothing in it, or the version is already there."""


def released(text: str) -> list[str]:
    """The released versions, newest first (as the sections appear)."""
    return [m.group("name") for m in _SECTION.finditer(text) if m.group("name") != "Unreleased"]


def _unreleased_span(text: str) -> tuple[int, int]:
    start = text.find(UNRELEASED + "\n")
    if start < 0:
        raise ChangelogError(f"CHANGELOG.md has no '{UNRELEASED}' section")
    nxt = _SECTION.search(text, start + len(UNRELEASED))
    return start, nxt.start() if nxt else len(text)


def _without_empty_subsections(body: str) -> str:
    """``body`` (the part after a version heading) without headings that have no entries."""
    heads = list(_SUBSECTION.finditer(body))
    if not heads:
        return body.strip()
    parts = [body[: heads[0].start()].strip()]
    for head, nxt in zip(heads, [*heads[1:], None], strict=True):
        entries = body[head.end() : nxt.start() if nxt else len(body)].strip()
        if entries:
            parts.append(f"{head.group(0)}\n{entries}")
    return "\n\n".join(part for part in parts if part)


def unreleased_entries(text: str) -> str:
    """What ``[Unreleased]`` holds, without empty headings ("" when nothing)."""
    start, end = _unreleased_span(text)
    return _without_empty_subsections(text[start + len(UNRELEASED) : end])


def cut(text: str, version: str, date: str) -> str:
    """``text`` with ``[Unreleased]``'s entries under ``## [version] - date`` and an empty ``[Unreleased]``."""
    if version in released(text):
        raise ChangelogError(f"CHANGELOG.md already has a section for {version}")
    entries = unreleased_entries(text)
    if not re.search(r"^- ", entries, re.MULTILINE):
        raise ChangelogError("CHANGELOG.md's [Unreleased] section has no entries: nothing to release")
    start, end = _unreleased_span(text)
    section = f"## [{version}] - {date}\n\n{entries}\n\n"
    return text[:start] + EMPTY_UNRELEASED + section + text[end:]


def section(text: str, version: str) -> str:
    """The body of ``version``'s section (for the tag's message)."""
    for m in _SECTION.finditer(text):
        if m.group("name") == version:
            nxt = _SECTION.search(text, m.end())
            return text[text.index("\n", m.end()) : nxt.start() if nxt else len(text)].strip()
    raise ChangelogError(f"CHANGELOG.md has no section for {version}")
