"""The simulator is a distribution of its own (``simulator/``, ``esml-simulator``) that stands on its own feet.

What it imports is the standard library, itself, or a dependency its ``pyproject.toml`` declares; every folder of
the package is a regular package (``packages.find`` skips a folder without ``__init__.py``, and its wheel would
lack it); its console script is installed and names a function that exists.
"""

from __future__ import annotations

import ast
import importlib
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "simulator"
PACKAGE = DIST / "esml_simulator"


def project() -> dict[str, object]:
    data = tomllib.loads((DIST / "pyproject.toml").read_text())
    assert isinstance(data["project"], dict)
    return data["project"]


def top_level_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_it_imports_only_the_standard_library_itself_and_its_declared_dependencies() -> None:
    declared = {Requirement(r).name.lower() for r in project()["dependencies"]}  # type: ignore[attr-defined]
    used = {name for path in PACKAGE.rglob("*.py") for name in top_level_imports(path)}
    third_party = {name.lower() for name in used - set(sys.stdlib_module_names)}  # import name = distribution
    assert third_party - {"esml_simulator", "__future__"} == declared
    assert "esml_operator" not in used


def test_every_folder_of_the_package_is_a_regular_package() -> None:
    folders = {path.parent for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts}
    assert sorted(str(f.relative_to(DIST)) for f in folders if not (f / "__init__.py").exists()) == []
    assert (PACKAGE / "py.typed").exists()


def test_the_console_script_is_installed_and_names_a_function() -> None:
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "esml-simulator"]
    assert script.value == project()["scripts"]["esml-simulator"]  # type: ignore[index]
    module, _, function = script.value.partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert not [
        e for e in entry_points(group="console_scripts") if e.value.startswith("esml_operator") and "sim" in e.value
    ]
