"""The dependency locks in requirements/ agree with pyproject.toml.

``make lock`` writes them with ``uv pip compile --generate-hashes``; ``make``,
``.ci/run`` and the Dockerfile install from them with ``pip --require-hashes``.
These tests fail when someone edits a dependency list in pyproject.toml and
forgets ``make lock``: a requirement missing from a lock, pinned at a version
that no longer satisfies it, or a pin left over from a removed requirement.

The simulator (``simulator/``, distribution ``esml-simulator``) is a development
dependency from this repository (``[tool.uv.sources]``): a directory has no hash,
so the dev lock leaves it out and holds its dependencies, and ``make`` installs
it from the directory.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
REQ = REPO / "requirements"
PYPROJECT_LABEL = "esml-operator (pyproject.toml)"
BUILD_IN_LABEL = "-r requirements/build.in"

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*\\?$")


@dataclass
class Pin:
    version: str
    marker: str | None
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def parse_lock(text: str) -> dict[str, Pin]:
    """``name -> Pin`` from a ``uv pip compile --generate-hashes`` output (default annotation style)."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not raw[0].isspace() and not line.startswith("#"):
            match = PIN.match(line)
            assert match, f"not a pinned requirement: {raw!r}"
            current = Pin(match["version"], match["marker"])
            pins[canonicalize_name(match["name"])] = current
        elif current is not None and line.startswith("--hash="):
            current.hashes.append(line.removeprefix("--hash=").rstrip(" \\"))
        elif current is not None and line.startswith("# via"):
            rest = line.removeprefix("# via").strip()
            if rest:
                current.via.append(rest)
        elif current is not None and line.startswith("#   "):
            current.via.append(line.removeprefix("#").strip())
    return pins


def local_packages(pyproject: dict[str, object]) -> dict[str, str]:
    """Canonical name -> directory of each dependency that comes from this repository (a path source)."""
    sources = pyproject.get("tool", {}).get("uv", {}).get("sources", {})  # type: ignore[attr-defined]
    return {canonicalize_name(name): source["path"] for name, source in sources.items() if "path" in source}


def requirements_of(pyproject: dict[str, object], *, dev: bool) -> list[Requirement]:
    """The locked requirements: the runtime (and development) dependencies, not those from this repository."""
    project = pyproject["project"]
    assert isinstance(project, dict)
    names = list(project["dependencies"])
    if dev:
        names += project["optional-dependencies"]["dev"]
    local = local_packages(pyproject)
    return [r for r in map(Requirement, names) if canonicalize_name(r.name) not in local]


def build_requirements(pyproject: dict[str, object]) -> list[Requirement]:
    build = pyproject["build-system"]
    assert isinstance(build, dict)
    return [Requirement(r) for r in build["requires"]]


def direct_labels(pin: Pin) -> set[str]:
    return {v for v in pin.via if v in {PYPROJECT_LABEL, BUILD_IN_LABEL}}


def problems(
    lock: dict[str, Pin], wanted: dict[str, list[Requirement]], local: frozenset[str] = frozenset()
) -> list[str]:
    """Disagreements between a lock and the requirements it was made from (label -> requirements).

    ``local``: packages installed from this repository, never in a lock, but parents of what they need.
    """
    found: list[str] = []
    wanted_names = {label: {canonicalize_name(r.name) for r in reqs} for label, reqs in wanted.items()}
    for label, reqs in wanted.items():
        for req in reqs:
            pin = lock.get(canonicalize_name(req.name))
            if pin is None:
                found.append(f"{req} is not in the lock")
            elif not req.specifier.contains(pin.version, prereleases=True):
                found.append(f"{req} is pinned at {pin.version}, which does not satisfy it")
            elif label not in pin.via:
                found.append(f"{req.name} is not annotated as required by {label}")
    for name, pin in sorted(lock.items()):
        if not pin.hashes:
            found.append(f"{name} has no hash")
        for label in direct_labels(pin):
            if name not in wanted_names.get(label, set()):
                found.append(f"{name} is locked for {label}, which no longer requires it (stale)")
        parents = [v for v in pin.via if not v.startswith(("-c ", "-r ")) and v != PYPROJECT_LABEL]
        missing = [p for p in parents if canonicalize_name(p) not in lock and canonicalize_name(p) not in local]
        if missing or not (direct_labels(pin) or parents):
            found.append(f"{name} is required by nothing in the lock (stale: via {pin.via})")
    return found


def load() -> tuple[dict[str, object], dict[str, dict[str, Pin]]]:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    locks = {name: parse_lock((REQ / f"{name}.txt").read_text()) for name in ("runtime", "dev", "build")}
    return pyproject, locks


# -- the real files ---------------------------------------------------------------------------


def test_runtime_lock_matches_the_runtime_dependencies() -> None:
    pyproject, locks = load()
    assert problems(locks["runtime"], {PYPROJECT_LABEL: requirements_of(pyproject, dev=False)}) == []


def test_dev_lock_matches_runtime_dev_and_build_dependencies() -> None:
    pyproject, locks = load()
    wanted = {
        PYPROJECT_LABEL: requirements_of(pyproject, dev=True),
        BUILD_IN_LABEL: build_requirements(pyproject),
    }
    assert problems(locks["dev"], wanted, frozenset(local_packages(pyproject))) == []


def test_the_simulator_is_a_development_dependency_from_this_repository() -> None:
    """In the dev extra by name, from ``simulator/``, out of every lock, its own dependencies in the dev lock."""
    pyproject, locks = load()
    assert local_packages(pyproject) == {"esml-simulator": "simulator"}
    assert "esml-simulator" in pyproject["project"]["optional-dependencies"]["dev"]  # type: ignore[index]
    assert "esml-simulator" not in {canonicalize_name(r.name) for r in requirements_of(pyproject, dev=False)}
    for lock in locks.values():
        assert "esml-simulator" not in lock
    simulator = tomllib.loads((REPO / "simulator" / "pyproject.toml").read_text())
    assert simulator["project"]["name"] == "esml-simulator"
    for requirement in map(Requirement, simulator["project"]["dependencies"]):
        pin = locks["dev"].get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement} (simulator/pyproject.toml) is not in the dev lock"
        assert requirement.specifier.contains(pin.version, prereleases=True), (requirement, pin.version)
        assert "esml-simulator" in pin.via, f"{requirement.name} is not annotated as required by esml-simulator"
    # make lock leaves it out of the dev lock (a directory has no hash); make installs it from simulator/.
    assert "--no-emit-package esml-simulator" in (REPO / "Makefile").read_text()


def test_build_lock_matches_the_build_system() -> None:
    pyproject, locks = load()
    assert problems(locks["build"], {BUILD_IN_LABEL: build_requirements(pyproject)}) == []
    build_in = [
        line for line in (REQ / "build.in").read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    assert build_in == pyproject["build-system"]["requires"]  # type: ignore[index]


def test_dev_lock_pins_the_runtime_and_build_locks_exactly() -> None:
    """The image (runtime lock) runs what the tests ran (dev lock)."""
    _, locks = load()
    for other in ("runtime", "build"):
        differing = {
            name: (pin.version, locks["dev"][name].version if name in locks["dev"] else None)
            for name, pin in locks[other].items()
            if name not in locks["dev"] or locks["dev"][name].version != pin.version
        }
        assert differing == {}, other


def test_make_lock_needs_only_the_dev_lock() -> None:
    """``make lock`` runs uv from the venv that ``make`` installs from the dev lock."""
    _, locks = load()
    assert "uv" in locks["dev"]
    makefile = (REPO / "Makefile").read_text()
    assert "--require-hashes -r $(REQ)/dev.txt" in makefile
    assert "--no-deps --no-build-isolation -e ./simulator -e ." in makefile


# -- the checker catches each kind of disagreement ------------------------------------------

LOCK_TEXT = """\
# This file was autogenerated by uv via the following command:
#    make lock
anyio==4.16.0 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
    # via httpx
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:cccc
    # via httpx
httpx==0.28.1 \\
    --hash=sha256:dddd
    # via
    #   -c requirements/runtime.txt
    #   esml-operator (pyproject.toml)
"""


def test_parser_reads_versions_markers_hashes_and_parents() -> None:
    lock = parse_lock(LOCK_TEXT)
    assert lock["anyio"] == Pin("4.16.0", None, ["sha256:aaaa", "sha256:bbbb"], ["httpx"])
    assert lock["colorama"].marker == "sys_platform == 'win32'"
    assert lock["httpx"].via == ["-c requirements/runtime.txt", PYPROJECT_LABEL]


@pytest.mark.parametrize(
    ("requirements", "expected"),
    [
        (["httpx>=0.27"], []),
        (["httpx>=0.29"], ["httpx>=0.29 is pinned at 0.28.1, which does not satisfy it"]),
        (["httpx>=0.27", "kopf>=1.44"], ["kopf>=1.44 is not in the lock"]),
        (["anyio>=4", "httpx"], ["anyio is not annotated as required by esml-operator (pyproject.toml)"]),
        (
            [],
            ["httpx is locked for esml-operator (pyproject.toml), which no longer requires it (stale)"],
        ),
    ],
)
def test_checker_reports_each_disagreement(requirements: list[str], expected: list[str]) -> None:
    lock = parse_lock(LOCK_TEXT)
    assert problems(lock, {PYPROJECT_LABEL: [Requirement(r) for r in requirements]}) == expected


def test_checker_accepts_a_local_parent_only_when_told() -> None:
    text = LOCK_TEXT.replace("    # via httpx\ncolorama", "    # via esml-simulator\ncolorama")
    wanted = {PYPROJECT_LABEL: [Requirement("httpx")]}
    assert problems(parse_lock(text), wanted, frozenset({"esml-simulator"})) == []
    assert problems(parse_lock(text), wanted) == [
        "anyio is required by nothing in the lock (stale: via ['esml-simulator'])"
    ]


def test_checker_reports_orphans_and_missing_hashes() -> None:
    orphaned = LOCK_TEXT.replace("    # via httpx\ncolorama", "    # via sniffio\ncolorama")
    assert problems(parse_lock(orphaned), {PYPROJECT_LABEL: [Requirement("httpx")]}) == [
        "anyio is required by nothing in the lock (stale: via ['sniffio'])"
    ]
    unhashed = LOCK_TEXT.replace("0.4.6 ; sys_platform == 'win32' \\\n    --hash=sha256:cccc\n", "0.4.6\n")
    assert problems(parse_lock(unhashed), {PYPROJECT_LABEL: [Requirement("httpx")]}) == ["colorama has no hash"]
