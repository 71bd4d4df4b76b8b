"""The simulator against YAML REST scenarios (``tests/simulator/yaml``), read by the official client.

Each test section of each file is one pytest item per emulated version; the
sections say with ``skip: version`` where a behaviour does not exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import SimFactory
from .yamlrest.client import client_for
from .yamlrest.loader import Case, load_dir
from .yamlrest.runner import Runner

SCENARIOS = Path(__file__).parent / "yaml"
CASES = load_dir(SCENARIOS)
VERSIONS = ("8.2.0", "8.12.2", "8.19.0", "9.2.0")
#: a user the scenarios may name in ``headers`` (``Basic`` of ``yaml-admin:yaml-admin-pw``)
USERS = [("yaml-admin", "yaml-admin-pw", "superuser"), ("yaml-reader", "yaml-reader-pw", "monitor_ml")]


def test_every_scenario_file_has_cases() -> None:
    files = {case.file for case in CASES}
    assert files == set(SCENARIOS.glob("*.yml"))
    assert len(CASES) >= len(files) >= 1


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_scenario(case: Case, version: str, make_sim: SimFactory) -> None:
    sim = await make_sim(es_version=version, models=[], users=USERS)
    async with client_for(sim.url, version, ("elastic", "changeme")) as client:
        await Runner(client, version).run(case)
