"""The condition and event reasons the operator can write, read from its source (an AST walk, no import).

A reason is a string that reaches the ``reason`` of a condition or an event: the argument of
``Verdict.not_ready/is_ready/progressing/stalled``, of ``ConditionValue`` and ``ConfigProblem``, or of
``Event``, or the first item a ``-> tuple[str, str]`` function returns (its ``(reason, message)``).
It is found as a literal, a module-level constant (``SCALED_TO_ZERO = "ScaledToZero"``,
``ep.ENDPOINT_NOT_DEPLOYED``), a local variable assigned such values in the same function, or either
branch of a conditional expression. Reasons computed from an error (Elasticsearch's ``error.type``, or
the error's class name) are not literals: :func:`error_classes` lists the classes instead.

The whole package is read (the simulator aside), so that the docs' tests keep holding when modules move.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.controlplane.runner import REPO

PACKAGE = REPO / "operator" / "esml_operator"
ERRORS = PACKAGE / "elasticsearch" / "errors.py"

#: call name -> position of the reason argument
CONDITION_CALLS = {
    "not_ready": 0,
    "is_ready": 0,
    "progressing": 0,
    "stalled": 0,
    "ConditionValue": 1,
    "ConfigProblem": 0,
    "SpecError": 0,
    "_converging": 1,  # decide.py's "not ready while Elasticsearch gets there" (reason, and progress=)
}
#: keyword arguments that carry a second reason (``_converging(..., progress="WaitingForStop")``)
REASON_KEYWORDS = {"progress"}
EVENT_CALLS = {"Event": 1}


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "simulator" not in p.relative_to(PACKAGE).parts)


def _trees() -> list[ast.Module]:
    return [ast.parse(path.read_text(encoding="utf-8"), str(path)) for path in _sources()]


def _constants(trees: list[ast.Module]) -> dict[str, set[str]]:
    """Module-level ``NAME = "text"`` (or ``NAME: Final = "text"``) across the package, by name."""
    found: dict[str, set[str]] = {}
    for tree in trees:
        for node in tree.body:
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            if targets and isinstance(value, ast.Constant) and isinstance(value.value, str):
                for target in targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, set()).add(value.value)
    return found


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _argument(call: ast.Call, position: int) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "reason":
            return keyword.value
    return call.args[position] if len(call.args) > position else None


class _Resolver:
    def __init__(self, constants: dict[str, set[str]], scope: ast.AST) -> None:
        self.constants = constants
        self.scope = scope

    def values(self, node: ast.expr, depth: int = 0) -> set[str]:
        if depth > 4:
            return set()
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return self.values(node.body, depth + 1) | self.values(node.orelse, depth + 1)
        if isinstance(node, ast.Attribute) and node.attr.isupper():
            return set(self.constants.get(node.attr, set()))
        if isinstance(node, ast.Name):
            if node.id.isupper() and node.id in self.constants:
                return set(self.constants[node.id])
            return self._locals(node.id, depth)
        return set()

    def _locals(self, name: str, depth: int) -> set[str]:
        found: set[str] = set()
        for node in ast.walk(self.scope):
            value = _assigned(node, name)
            if value is not None:
                found |= self.values(value, depth + 1)
        return found


def _assigned(node: ast.AST, name: str) -> ast.expr | None:
    """The value ``node`` assigns to the local variable ``name``, if it does."""
    if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
        return node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
        return node.value
    return None


def _calls(tree: ast.Module) -> Iterator[tuple[ast.Call, ast.AST]]:
    """Every call with the function (or module) it is in."""
    scopes: list[ast.AST] = [tree]
    scopes += [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    seen: set[int] = set()
    for scope in reversed(scopes):  # innermost functions first: a call belongs to the nearest one
        for node in ast.walk(scope):
            if isinstance(node, ast.Call) and id(node) not in seen:
                seen.add(id(node))
                yield node, scope


def _pair_returns(tree: ast.Module) -> Iterator[tuple[ast.expr, ast.AST]]:
    """The first item of every tuple returned by a function annotated ``-> tuple[str, str]``."""
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef) or function.returns is None:
            continue
        if ast.unparse(function.returns) != "tuple[str, str]":
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and node.value.elts:
                yield node.value.elts[0], function


def _reasons(calls: dict[str, int], *, pairs: bool) -> set[str]:
    trees = _trees()
    constants = _constants(trees)
    found: set[str] = set()
    for tree in trees:
        for call, scope in _calls(tree):
            name = _call_name(call)
            if name not in calls:
                continue
            argument = _argument(call, calls[name])
            if argument is not None:
                found |= _Resolver(constants, scope).values(argument)
            for keyword in call.keywords:
                if keyword.arg in REASON_KEYWORDS:
                    found |= _Resolver(constants, scope).values(keyword.value)
        if pairs:
            for first, function in _pair_returns(tree):
                found |= _Resolver(constants, function).values(first)
    return found


def condition_reasons() -> set[str]:
    """Every literal reason a condition (Ready, Reconciling, Stalled, ElasticsearchReachable,
    AutoscalerConflict) can carry."""
    return _reasons(CONDITION_CALLS, pairs=True)


def event_reasons() -> set[str]:
    """Every literal reason of an Event the operator posts (a Warning event also carries Ready's reason)."""
    return _reasons(EVENT_CALLS, pairs=False)


def reason_constants() -> dict[str, str]:
    """Module-level constants of ``reconcile/`` whose value is a CamelCase word (``SCALED_TO_ZERO``):
    each must be a condition type or a reason the walk above finds, or the walk has a blind spot."""
    found: dict[str, str] = {}
    for tree in [ast.parse(p.read_text(encoding="utf-8")) for p in sorted((PACKAGE / "reconcile").glob("*.py"))]:
        for name, values in _constants([tree]).items():
            for value in values:
                if re.fullmatch(r"(?:[A-Z][a-z]+)+", value):
                    found[name] = value
    return found


def error_classes() -> set[str]:
    """The error classes whose names become reasons when Elasticsearch gave no ``error.type``."""
    tree = ast.parse(ERRORS.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("Error")}
