"""The pass's memory has one writer: only ``controller/memory.py`` assigns to an :class:`Entry`.

The observer returns what it learned and the actor the outcome; ``memory.remember`` applies both (and counts
attempts and draws the retry jitter, once). This test reads every module of the operator package and fails on
an assignment to an ``Entry`` attribute anywhere else: ``x.failure = ...``, ``x.jitter += ...``,
``a, x.config = ...`` or ``setattr(x, "failure", ...)`` for any ``x`` but ``self`` and ``cls``.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

from esml_operator.controller import memory
from esml_operator.controller.memory import Entry

PACKAGE = Path(memory.__file__).resolve().parents[1]
FIELDS = frozenset(field.name for field in dataclasses.fields(Entry))
WRITER = Path(memory.__file__).resolve()


def _targets(node: ast.AST) -> Iterator[ast.expr]:
    if isinstance(node, ast.Assign):
        yield from node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        yield node.target


def _flatten(target: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _flatten(element)
    elif isinstance(target, ast.Starred):
        yield from _flatten(target.value)
    else:
        yield target


def entry_writes(source: str) -> list[str]:
    """``line: attribute`` for every assignment to an Entry field of something other than self/cls."""
    found = []
    for node in ast.walk(ast.parse(source)):
        for target in (flat for assigned in _targets(node) for flat in _flatten(assigned)):
            if isinstance(target, ast.Attribute) and target.attr in FIELDS and not _is_self(target.value):
                found.append(f"{target.lineno}: {target.attr}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            name = node.args[1] if len(node.args) > 1 else None
            if isinstance(name, ast.Constant) and name.value in FIELDS:
                found.append(f"{node.lineno}: setattr {name.value}")
    return found


def _is_self(value: ast.expr) -> bool:
    return isinstance(value, ast.Name) and value.id in ("self", "cls")


def test_only_the_memory_module_assigns_to_an_entry() -> None:
    modules = [path for path in PACKAGE.rglob("*.py") if "simulator" not in path.relative_to(PACKAGE).parts]
    assert len(modules) > 20 and WRITER in modules
    writes = {str(path.relative_to(PACKAGE)): entry_writes(path.read_text()) for path in modules if path != WRITER}
    assert {path: lines for path, lines in writes.items() if lines} == {}
    assert entry_writes(WRITER.read_text()), "the memory module itself writes entries"


def test_the_check_finds_each_kind_of_write() -> None:
    source = """
def f(entry, other, obj):
    entry.failure = None
    other.jitter += 1
    ok, obj.config = 1, 2
    self.failure = None
    entry.unrelated = 3
    setattr(entry, "last_assignment", None)
"""
    assert entry_writes(source) == ["3: failure", "4: jitter", "5: config", "8: setattr last_assignment"]
