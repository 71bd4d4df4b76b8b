"""The container image recipe, checked without a Docker engine (tests/packaging builds and runs the wheel)."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
import yaml

from tests.support.dockerfile import (
    DOCKERFILE,
    DOCKERIGNORE,
    REPO,
    copy_sources,
    ignore_rules,
    in_context,
    instructions,
    parse,
)

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
IMAGE = f"esml-operator:{VERSION}"


def stages():  # type: ignore[no-untyped-def]
    return parse(DOCKERFILE.read_text())[1]


def test_multi_stage_wheel_then_slim_runtime() -> None:
    wheel, venv, final = stages()
    assert wheel.name == "wheel" and venv.name == "venv" and final.name is None
    assert any("pip wheel" in run and "--no-build-isolation" in run for run in wheel.all("RUN"))
    assert [copy_sources(c)[1] for c in venv.all("COPY")] == [None, "wheel"]
    assert [copy_sources(c) for c in final.all("COPY")] == [(["/opt/esml-operator"], "venv")]


def test_base_image_is_a_pinned_slim_python_matching_the_locks() -> None:
    args, all_stages = parse(DOCKERFILE.read_text())
    bases = {stage.base for stage in all_stages}
    assert bases == {args["PYTHON_IMAGE"]}
    match = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-(\w+)(@sha256:[0-9a-f]{64})?", args["PYTHON_IMAGE"])
    assert match, f"not a pinned slim Python image: {args['PYTHON_IMAGE']}"
    # The locks are resolved for this Python (make lock: --python-version), and the package allows it.
    minor = f"{match[1]}.{match[2]}"
    assert f"--python-version {minor}" in (REPO / "Makefile").read_text()
    assert PYPROJECT["project"]["requires-python"] == f">={minor}"


def test_runs_as_non_root_with_the_console_script_as_entrypoint() -> None:
    final = stages()[-1]
    keywords = [i.keyword for i in final.instructions]
    assert final.all("USER") == ["65532:65532"]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k in {"RUN", "COPY"})
    assert json.loads(final.all("ENTRYPOINT")[0]) == ["esml-operator"]
    assert PYPROJECT["project"]["scripts"]["esml-operator"] == "esml_operator.cli:main"
    assert json.loads(final.all("CMD")[0]) == ["run", "--all-namespaces"]


def test_nothing_is_installed_without_a_hash_and_no_tools_are_added() -> None:
    runs = [run for stage in stages() for run in stage.all("RUN")]
    installs = [part.strip() for run in runs for part in run.split("&&") if " install " in part]
    assert installs
    for install in installs:
        hashed = "--require-hashes" in install and re.search(r" -r \S+\.txt", install)
        local_wheel = "--no-deps /dist/" in install
        assert hashed or local_wheel, install
    commands = " ".join(i.args for i in instructions(DOCKERFILE.read_text()))
    for tool in ("apt-get", "apk ", "curl", "wget", "git "):
        assert tool not in commands, tool
    assert any("uninstall --yes pip setuptools" in run for run in stages()[1].all("RUN"))
    assert any("pip uninstall" in run for run in stages()[-1].all("RUN"))


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    rules = ignore_rules(DOCKERIGNORE.read_text())
    sources = [src for stage in stages() for c in stage.all("COPY") for src in [copy_sources(c)] if src[1] is None]
    paths = [path for names, _ in sources for path in names]
    assert paths == [
        "requirements/build.txt",
        "pyproject.toml",
        "README.md",
        "operator/",
        "requirements/runtime.txt",
    ]
    for path in paths:
        assert (REPO / path).exists(), path
        assert in_context(path, rules), f"{path} is excluded by .dockerignore"
    assert in_context("operator/esml_operator/cli.py", rules)
    for left_out in ("tests/conftest.py", ".venv/bin/python", ".local/bin/kubectl", "requirements/dev.txt", ".git"):
        assert not in_context(left_out, rules), left_out
    assert not in_context("operator/esml_operator/__pycache__/cli.cpython-311.pyc", rules)


@pytest.mark.parametrize(
    ("ignore", "path", "sent"),
    [
        ("*\n!operator/\n", "operator/x/y.py", True),
        ("*\n!operator/\n", "tests/x.py", False),
        ("*\n!operator/\n**/__pycache__\n", "operator/a/__pycache__/b.pyc", False),
        ("docs\n", "docs/a.md", False),
        ("docs\n", "README.md", True),
        ("*.md\n!README.md\n", "README.md", True),
    ],
)
def test_dockerignore_reading_follows_docker(ignore: str, path: str, sent: bool) -> None:
    assert in_context(path, ignore_rules(ignore)) is sent


def test_parser_joins_continuations_and_drops_comments() -> None:
    text = "# c\nFROM a AS b\nRUN one \\\n  && two\n# inner\nUSER 1\n"
    assert [(i.keyword, i.args) for i in instructions(text)] == [
        ("FROM", "a AS b"),
        ("RUN", "one && two"),
        ("USER", "1"),
    ]


def test_image_name_agrees_across_deployment_kustomize_install_docs_and_dockerfile() -> None:
    (deployment,) = [d for d in yaml.safe_load_all((REPO / "manifests/base/deployment.yaml").read_text()) if d]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE
    kustomization = yaml.safe_load((REPO / "manifests/base/kustomization.yaml").read_text())
    assert kustomization["images"] == [{"name": "esml-operator", "newTag": VERSION}]
    assert f"docker build -t {IMAGE} ." in DOCKERFILE.read_text()
    for page in ("README.md", "docs/operations/install.md"):
        install = (REPO / page).read_text()
        assert f"VERSION={VERSION}\n" in install, page
        assert 'docker build -t "$REGISTRY/esml-operator:$VERSION" .' in install, page
        assert 'newName: $REGISTRY/esml-operator\n    newTag: "$VERSION"' in install, page


def test_the_image_tier_runs_only_in_make_test_image() -> None:
    """tests/image needs podman and a built image: make test and make unit deselect it, make test-image runs it."""
    makefile = (REPO / "Makefile").read_text()
    recipes = {m[1]: m[2] for m in re.finditer(r"^([\w-]+):[^\n=]*\n((?:\t[^\n]*\n)+)", makefile, re.MULTILINE)}
    for target in ("test", "unit"):
        (expression,) = re.findall(r'pytest -m "([^"]+)"', recipes[target])
        assert expression.endswith(" and not image"), (target, expression)
    assert "pytest -m image tests/image" in recipes["test-image"]
    assert re.search(r"^test-image: image controlplane$", makefile, re.MULTILINE)
    assert re.search(r"^image: venv podman$", makefile, re.MULTILINE)
    markers = PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]
    assert any(marker.startswith("image:") for marker in markers)
