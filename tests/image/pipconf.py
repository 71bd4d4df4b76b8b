"""The host's pip configuration, for the RUN steps of ``make image`` (never baked into the image).

Makes a home directory for the build's root user: ``.config/pip/pip.conf`` merges what
``pip config list`` reports (configuration files and ``PIP_*`` variables; a variable wins, as
in pip), with every host path it names (a CA bundle, a find-links directory, ...) moved under
``/root/.esml-build/``. It prints one ``--volume`` value per line: the home itself at /root,
then each host path at its new place (read-only). The base image has /root, so no mount point
is left in any layer; a mount at a path the base lacks (/etc/pip.conf, /opt/wheels) would be.

    python -m tests.image.pipconf HOME_DIR
"""

from __future__ import annotations

import ast
import configparser
import subprocess
import sys
from pathlib import Path

# Settings whose values are host paths the build containers must see.
PATH_KEYS = {"cert", "client-cert", "find-links"}
CONTAINER_HOME = "/root"  # the HOME of the build's RUN steps
BUILD_DIR = ".esml-build"


def read_pip_config(python: str = sys.executable) -> dict[tuple[str, str], str]:
    """(section, key) -> value from ``pip config list``; ``:env:`` entries go to [global] and win."""
    listing = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return parse_listing(listing)


def parse_listing(listing: str) -> dict[tuple[str, str], str]:
    """``pip config list`` lines (``section.key='value'``, ``:env:.key='value'``) as (section, key) -> value."""
    files: dict[tuple[str, str], str] = {}
    env: dict[tuple[str, str], str] = {}
    for line in listing.splitlines():
        name, sep, raw = line.partition("=")
        if not sep:
            continue
        section, _, key = name.rpartition(".")
        value = ast.literal_eval(raw)
        if section == ":env:":
            env[("global", key)] = value
        else:
            files[(section, key)] = value
    return files | env


def render(config: dict[tuple[str, str], str]) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    for (section, key), value in sorted(config.items()):
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, key, value)
    lines: list[str] = []
    for section in parser.sections():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {value}" for key, value in parser.items(section))
    return "\n".join(lines) + "\n"


def relocate(config: dict[tuple[str, str], str], under: str) -> tuple[dict[tuple[str, str], str], dict[Path, str]]:
    """The configuration with each existing absolute path of a path-valued setting (find-links may
    list several) replaced by a place under ``under``, and host path -> that place."""
    moved: dict[Path, str] = {}
    relocated: dict[tuple[str, str], str] = {}
    for (section, key), value in config.items():
        words = value.split()
        if key in PATH_KEYS:
            for index, word in enumerate(words):
                path = Path(word)
                if path.is_absolute() and path.exists():
                    moved.setdefault(path, f"{under}/{len(moved)}-{path.name}")
                    words[index] = moved[path]
        relocated[(section, key)] = " ".join(words)
    return relocated, moved


def main(argv: list[str]) -> int:
    (home,) = (Path(arg) for arg in argv)
    config, moved = relocate(read_pip_config(), f"{CONTAINER_HOME}/{BUILD_DIR}")
    (home / ".config" / "pip").mkdir(parents=True)
    (home / ".config" / "pip" / "pip.conf").write_text(render(config))
    print(f"{home}:{CONTAINER_HOME}:ro")
    for source, target in moved.items():
        mount_point = home / target.removeprefix(CONTAINER_HOME + "/")
        mount_point.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            mount_point.mkdir()
        else:
            mount_point.touch()
        print(f"{source}:{target}:ro")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
