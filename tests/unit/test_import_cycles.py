"""No import cycles among the operator's modules or the simulator's, type-only imports (``if TYPE_CHECKING:``) included.

The graph is read from the source with :mod:`ast`: every ``import`` and ``from ... import`` anywhere in a module
(at the top, under ``if TYPE_CHECKING:``, inside a function) is an edge to the module it names; ``from a import b``
is an edge to ``a.b`` when that is a module, else to ``a``. A cycle is a strongly connected component of more
than one module.

The four cycles issue 19 found (three in the simulator, one in ``reconcile``) are gone; none may come back.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The package roots whose modules are checked: the operator's and the simulator's (its own distribution).
ROOTS = ("operator/esml_operator", "simulator/esml_simulator")

Graph = Mapping[str, set[str]]


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` below the package directory ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            anchor = package[: len(package) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        yield from (f"{base}.{alias.name}" for alias in node.names)
        yield base


def graph(found: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``found`` it imports (an imported name that is not a module counts as its module)."""
    edges: dict[str, set[str]] = {}
    for module, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        targets = set()
        for node in ast.walk(tree):
            names = list(_imported(node, module, path.name == "__init__.py"))
            if isinstance(node, ast.ImportFrom):  # ``from a import b``: a.b if a module, else a itself
                *members, base = names
                hits = [name for name in members if name in found]
                targets.update(hits if len(hits) == len(members) else [*hits, base])
            else:
                targets.update(names)
        edges[module] = {target for target in targets if target in found and target != module}
    return edges


def cycles(edges: Graph) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


@cache
def repository_cycles() -> tuple[frozenset[str], ...]:
    roots = [REPO / root for root in ROOTS]
    missing = [str(root) for root in roots if not (root / "__init__.py").exists()]
    assert not missing, f"no package where this test looks: {missing}"
    return tuple(cycle for root in roots for cycle in cycles(graph(modules(root))))


def test_no_import_cycle() -> None:
    found = [sorted(cycle) for cycle in repository_cycles()]
    assert not found, f"import cycles (type-only imports count): {found}"


TYPE_ONLY = {  # a cycle closed by an import under ``if TYPE_CHECKING:``
    "pkg/__init__.py": "",
    "pkg/a.py": "from pkg.b import B\n",
    "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\n",
    "pkg/c.py": "import pkg.a\n",
}
RELATIVE_IN_A_FUNCTION = {  # relative imports, one of them inside a function
    "pkg/__init__.py": "",
    "pkg/sub/__init__.py": "from . import x\n",
    "pkg/sub/x.py": "def f():\n    from ..y import g\n",
    "pkg/y.py": "from pkg.sub import x\n",
}
ACYCLIC = {  # a package that imports its modules, which import each other one way
    "pkg/__init__.py": "from pkg.a import A\n",
    "pkg/a.py": "from pkg import b\nA = b.B\n",
    "pkg/b.py": "import json\nB = 1\n",
}


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (TYPE_ONLY, [{"pkg.a", "pkg.b"}]),
        (RELATIVE_IN_A_FUNCTION, [{"pkg.sub.x", "pkg.y"}]),
        (ACYCLIC, []),
    ],
    ids=["type-only", "relative-in-a-function", "acyclic"],
)
def test_cycles_of_a_synthetic_tree(tmp_path: Path, files: Mapping[str, str], expected: list[set[str]]) -> None:
    assert cycles(graph(modules(_write(tmp_path, files)))) == [frozenset(cycle) for cycle in expected]


def test_from_a_package_import_a_module_is_an_edge_to_the_module(tmp_path: Path) -> None:
    assert graph(modules(_write(tmp_path, ACYCLIC))) == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.b"}, "pkg.b": set()}


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"
