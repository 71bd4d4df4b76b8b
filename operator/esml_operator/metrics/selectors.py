"""Kubernetes label selectors in their string form (``a=b,c!=d,e in (f,g),!h``), as an HPA sends them.

The grammar of ``k8s.io/apimachinery/pkg/labels.Parse`` for the operators an
HPA's ``metric.selector`` produces: ``=``, ``==``, ``!=``, ``in``, ``notin``,
exists (``key``) and does not exist (``!key``). A requirement that is not
understood is an error, never silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Selector = Callable[[Mapping[str, str]], bool]

_KEY = r"[A-Za-z0-9](?:[A-Za-z0-9_./-]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?)?"
_EQUALITY = re.compile(rf"(?P<key>{_KEY})\s*(?P<op>==|=|!=)\s*(?P<value>{_VALUE})")
_SET = re.compile(rf"(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)")
_EXISTS = re.compile(rf"(?P<neg>!?)\s*(?P<key>{_KEY})")
_VALUE_ONLY = re.compile(_VALUE)


class SelectorError(ValueError):
    """The selector is not valid."""


def _requirements(text: str) -> list[str]:
    """Split at commas outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts]


def _requirement(text: str) -> Selector:
    if match := _EQUALITY.fullmatch(text):
        key, value, negate = match["key"], match["value"], match["op"] == "!="
        return lambda labels: (labels.get(key) == value) != negate
    if match := _SET.fullmatch(text):
        key, negate = match["key"], match["op"] == "notin"
        values = {value.strip() for value in match["values"].split(",")}
        if not all(_VALUE_ONLY.fullmatch(value) for value in values):
            raise SelectorError(f"invalid value in {text!r}")
        if negate:
            return lambda labels: labels.get(key) not in values
        return lambda labels: key in labels and labels[key] in values
    if match := _EXISTS.fullmatch(text):
        key, absent = match["key"], bool(match["neg"])
        return lambda labels: (key in labels) != absent
    raise SelectorError(f"cannot parse the label selector requirement {text!r}")


def parse_selector(text: str | None) -> Selector:
    """A predicate on a label map; an empty selector selects everything."""
    if text is None or not text.strip():
        return lambda labels: True
    parts = _requirements(text)
    if not all(parts):
        raise SelectorError(f"empty requirement in the label selector {text!r}")
    checks = [_requirement(part) for part in parts]
    return lambda labels: all(check(labels) for check in checks)
