"""make image hands the host's pip configuration to the build's RUN steps (tests/image/pipconf.py)."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from tests.image.pipconf import BUILD_DIR, CONTAINER_HOME, parse_listing, relocate, render
from tests.support.dockerfile import REPO

BUILT = f"{CONTAINER_HOME}/{BUILD_DIR}"  # where the host's paths go in the build's home


def test_a_pip_variable_wins_over_the_configuration_files() -> None:
    listing = (
        "global.cert='/etc/ssl/a.crt'\n"
        "global.index-url='https://index.example/simple'\n"
        "install.no-binary=':none:'\n"
        ":env:.cert='/etc/ssl/b.crt'\n"
        ":env:.default-timeout='180'\n"
    )
    assert parse_listing(listing) == {
        ("global", "cert"): "/etc/ssl/b.crt",
        ("global", "index-url"): "https://index.example/simple",
        ("install", "no-binary"): ":none:",
        ("global", "default-timeout"): "180",
    }


def test_host_paths_move_under_the_build_home_and_others_stay(tmp_path: Path) -> None:
    cert = tmp_path / "ca.crt"
    cert.write_text("pem")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    config = {
        ("global", "cert"): str(cert),
        ("global", "find-links"): f"{wheels} https://links.example/ {tmp_path / 'missing'}",
        ("global", "index-url"): "https://index.example/simple",
    }
    relocated, moved = relocate(config, BUILT)
    assert moved == {cert: f"{BUILT}/0-ca.crt", wheels: f"{BUILT}/1-wheels"}
    assert relocated == {
        ("global", "cert"): f"{BUILT}/0-ca.crt",
        ("global", "find-links"): f"{BUILT}/1-wheels https://links.example/ {tmp_path / 'missing'}",
        ("global", "index-url"): "https://index.example/simple",
    }
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(render(relocated))
    assert parser.get("global", "cert") == f"{BUILT}/0-ca.crt"


def test_the_home_holds_the_config_and_a_mount_point_for_each_host_path(tmp_path: Path) -> None:
    cert = tmp_path / "ca.crt"
    cert.write_text("pem")
    # PIP_CONFIG_FILE=os.devnull: pip reads no configuration file, only the variables.
    env = {"PIP_CERT": str(cert), "PIP_CONFIG_FILE": os.devnull, "PATH": os.defpath}
    home = tmp_path / "home"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.image.pipconf", str(home)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert proc.stdout.splitlines() == [f"{home}:{CONTAINER_HOME}:ro", f"{cert}:{BUILT}/0-ca.crt:ro"]
    assert (home / ".esml-build" / "0-ca.crt").is_file()
    assert f"cert = {BUILT}/0-ca.crt" in (home / ".config/pip/pip.conf").read_text()
