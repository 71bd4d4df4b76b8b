"""What the Dockerfile does, done here without a Docker engine.

The build context is made from the Dockerfile's own COPY lines filtered by
.dockerignore; the wheel is built in a clean venv holding only the build lock
(``pip wheel --no-build-isolation``), then installed with the runtime lock
(``--require-hashes``) into another clean venv, where ``esml-operator`` runs.
Needs the package index (or pip's cache), like ``make``.
"""

from __future__ import annotations

import shutil
import subprocess
import venv
import zipfile
from pathlib import Path

import pytest

from tests.support.dockerfile import DOCKERFILE, DOCKERIGNORE, REPO, copy_sources, ignore_rules, in_context, parse

pytestmark = pytest.mark.timeout(600)


def run(*argv: str | Path, cwd: Path | None = None) -> str:
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, timeout=540, check=False)
    assert proc.returncode == 0, f"{argv}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def build_context(dest: Path) -> None:
    """The files Docker would send for the wheel stage's COPY lines."""
    rules = ignore_rules(DOCKERIGNORE.read_text())
    wheel_stage = parse(DOCKERFILE.read_text())[1][0]
    for args in wheel_stage.all("COPY"):
        sources, stage = copy_sources(args)
        assert stage is None
        for source in sources:
            path = REPO / source
            files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
            for file in files:
                relative = file.relative_to(REPO).as_posix()
                if in_context(relative, rules):
                    (dest / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, dest / relative)


def clean_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin" / "python"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("image")
    context = root / "context"
    build_context(context)
    assert not list(context.rglob("__pycache__"))
    assert not (context / "tests").exists()

    pip = ("-m", "pip", "--disable-pip-version-check", "--no-input")
    builder = clean_venv(root / "build-venv")
    run(builder, *pip, "install", "--quiet", "--require-hashes", "-r", context / "requirements/build.txt")
    run(
        builder,
        *pip,
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        root / "dist",
        ".",
        cwd=context,
    )
    (wheel,) = (root / "dist").glob("*.whl")

    python = clean_venv(root / "runtime-venv")
    run(python, *pip, "install", "--quiet", "--require-hashes", "--no-deps", "-r", REPO / "requirements/runtime.txt")
    run(python, *pip, "install", "--quiet", "--no-deps", wheel)
    run(python, *pip, "check")
    return wheel, python


def test_wheel_holds_the_package_and_nothing_else(installed: tuple[Path, Path]) -> None:
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert packages == {"esml_operator"}
    assert "esml_operator/py.typed" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "esml-operator = esml_operator.cli:main" in scripts
    # The simulator is a distribution of its own (simulator/, esml-simulator): none of it ships here.
    assert [n for n in names if "simulator" in n] == []
    assert "simulator" not in scripts


def test_console_script_runs_from_the_clean_venv(installed: tuple[Path, Path]) -> None:
    _, python = installed
    script = python.parent / "esml-operator"
    assert "run" in run(script, "--help")
    assert "--all-namespaces" in run(script, "run", "--help")
    # Everything the operator imports at run time comes from the runtime lock alone.
    run(python, "-c", "import esml_operator.manager.registration")
    # ... the simulator is not there (in any form), and the command has no simulator subcommand.
    for module in ("esml_simulator", "esml_operator.simulator"):
        absent = f"import importlib.util as u, sys; sys.exit(u.find_spec({module!r}) is not None)"
        run(python, "-c", absent)
    proc = subprocess.run([str(script), "simulator"], capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 2, proc
    assert "unknown command 'simulator'" in proc.stderr
    # ... and nothing from the development lock is there.
    proc = subprocess.run([str(python), "-c", "import pytest"], capture_output=True, check=False, timeout=60)
    assert proc.returncode != 0
