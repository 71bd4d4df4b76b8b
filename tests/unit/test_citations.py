"""No tracked file cites a path that a clone of the repository does not have.

Development notes once lived outside the repository (a ``shared`` reference folder, absolute paths of a
development machine). What the code relies on is now in the repository: docs/reference/elasticsearch/ for
Elasticsearch's behaviour and docs/development.md for the local control plane; Elastic's documentation is
cited by title and version.
"""

from __future__ import annotations

import re
import subprocess

from tests.controlplane.runner import REPO

#: "shared" + "/reference", and absolute paths under a home or work directory of a development machine
#: (container paths such as the image's /root are fine: they exist where they are used).
FORBIDDEN = re.compile("|".join([r"\bshared" + "/reference", r"(?<![\w.])/(?:home" + "/[a-z]|work/|Users/)"]))


def citations(text: str) -> list[str]:
    return [m.group(0) for m in FORBIDDEN.finditer(text)]


def test_no_tracked_file_cites_a_path_outside_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    found = {}
    for name in tracked.decode().split("\0"):
        path = REPO / name
        if not name or not path.is_file():
            continue
        hits = citations(path.read_bytes().decode("utf-8", errors="replace"))
        if hits:
            found[name] = hits
    assert not found, f"files citing paths a clone does not have: {found}"


def test_the_pattern_finds_what_it_is_for_and_spares_container_paths() -> None:
    assert citations("see shared" + "/reference/control-plane.md §4") == ["shared" + "/reference"]
    home, work, users = "/" + "home/", "/" + "work/", "/" + "Users/"  # split so that this file does not cite them
    assert citations(f"`{work}shared/x.md`, {home}alice/notes, {users}bob/x") == [work, home + "a", users]
    assert citations("COPY --chown=65532 /root/.esml-build/ and /opt/wheels, https://h/home/x, a.work/b") == []
