"""Read the Dockerfile and .dockerignore the way Docker does, for tests that run without a Docker engine."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]


def instructions(text: str) -> list[Instruction]:
    """Instructions with line continuations joined and comments dropped."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(args.split())))
    return found


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages (FROM with ARGs substituted)."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for item in instructions(text):
        if item.keyword == "ARG" and not stages:
            name, _, default = item.args.partition("=")
            args[name] = default
        elif item.keyword == "FROM":
            words = item.args.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], ""), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif stages:
            stages[-1].instructions.append(item)
    return args, stages


def copy_sources(args: str) -> tuple[list[str], str | None]:
    """The sources of a COPY and its --from stage (None for the build context)."""
    words = shlex.split(args)
    source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
    plain = [w for w in words if not w.startswith("--")]
    return plain[:-1], source_stage


def _pattern(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().strip("/")
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + "$")


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(exclude?, pattern) in file order; the last matching rule wins, as in Docker."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((not negated, _pattern(line.lstrip("!"))))
    return rules


def in_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether ``path`` (relative, with /) is sent to the builder: a rule on a directory covers its contents."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for exclude, pattern in rules:
        if any(pattern.match(prefix) for prefix in prefixes):
            excluded = exclude
    return not excluded
