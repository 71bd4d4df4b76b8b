"""What the image ``make image`` built holds, and what it must not (no installer, no compiler,
nothing of the build host's pip configuration)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.image.container import IMAGE, podman, require_image, run_once
from tests.image.pipconf import BUILD_DIR, CONTAINER_HOME

pytestmark = [pytest.mark.image, pytest.mark.timeout(300)]

# Where pip looks for configuration, and where `make image` puts the host's (tests/image/pipconf.py).
PIP_PATHS = (
    "/etc/pip.conf",
    "/etc/xdg/pip",
    f"{CONTAINER_HOME}/.config/pip",
    f"{CONTAINER_HOME}/{BUILD_DIR}",
    f"{CONTAINER_HOME}/.cache/pip",
    "/opt/wheels",
)

PROBE = (
    f"PIP_PATHS = {PIP_PATHS!r}\n"
    + """
import importlib.util, json, os, shutil
def found(module):
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its parent package is missing
        return False
print(json.dumps({
    "modules": {m: found(m) for m in ("pip", "setuptools", "wheel", "esml_operator", "esml_simulator",
                                      "esml_operator.simulator")},
    "tools": {t: shutil.which(t) for t in ("pip", "pip3", "gcc", "cc", "c++", "g++", "clang", "make", "esml-operator")},
    "paths": {p: os.path.exists(p) for p in PIP_PATHS},
    "env": sorted(k for k in os.environ if k.startswith("PIP_")),
}))
"""
)


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    # As root, so that /root can be looked into; the image's own user is checked below.
    return dict(json.loads(run_once(require_image(), "-c", PROBE, user="0:0")))


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    require_image()
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
    print(f"{IMAGE}: {size / 1e6:.0f} MB")
    return dict(json.loads(podman("image", "inspect", "--format", "{{json .Config}}", IMAGE).stdout))


def test_runs_as_65532_with_the_console_script(config: dict[str, Any]) -> None:
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["esml-operator"]
    assert config["Cmd"] == ["run", "--all-namespaces"]
    assert run_once(IMAGE, "-c", "import os; print(os.getuid(), os.getgid())").split() == ["65532", "65532"]
    version = run_once(IMAGE, "--version", entrypoint="esml-operator").strip()
    assert version.startswith("esml-operator "), version


def test_no_package_installer_and_no_compiler(probe: dict[str, Any]) -> None:
    assert probe["modules"] == probe["modules"] | {"pip": False, "setuptools": False, "wheel": False}
    assert probe["modules"]["esml_operator"]
    assert {tool: path for tool, path in probe["tools"].items() if path and tool != "esml-operator"} == {}
    assert probe["tools"]["esml-operator"] == "/opt/esml-operator/bin/esml-operator"


def test_nothing_of_the_build_hosts_pip_configuration_is_in_the_image(
    probe: dict[str, Any], config: dict[str, Any]
) -> None:
    assert [path for path, exists in probe["paths"].items() if exists] == []
    assert probe["env"] == []
    assert not [e for e in config["Env"] if e.startswith("PIP_") or "proxy" in e.lower()]


def test_no_simulator(probe: dict[str, Any]) -> None:
    """The simulator is a development tool of its own distribution (esml-simulator), not part of the image."""
    assert probe["modules"]["esml_simulator"] is False
    assert probe["modules"]["esml_operator.simulator"] is False
