"""The runtime-invalid catalogue (tests/faults/runtime-invalid/): valid resources that cannot work.

Each file is the ``spec`` of one ModelDeployment (named after the file) that
the API server accepts but that cannot work against the clusters this test
sets up. Its leading comments say what the operator must report:

* ``# reason: R``: ``Stalled`` is True with reason R, and ``Ready`` is False;
* ``# message: text``: text that must appear in the Stalled message (repeatable).

Placeholders: ``$URL`` (a proxy of its own in front of the TLS simulator, so
requests are counted per case), ``$PLAIN_URL`` (a plain-http simulator),
``$OLD_URL`` (Elasticsearch 8.5), ``$MODEL`` (a deployable model). Every case
must get its condition, cause a bounded number of requests, and never crash
the operator or put a traceback into status.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import pytest
import yaml

from harness.polling import wait_for
from tests.faults.conftest import RESYNC, Env, PlantedSimulator
from tests.faults.proxy import FaultProxy
from tests.support.simulator import DEMO_MODEL

pytestmark = pytest.mark.faults_smoke

CATALOGUE = Path(__file__).parent / "runtime-invalid"
FILES = sorted(CATALOGUE.glob("*.yaml"))
#: What the issue asks the catalogue to cover, at least.
REQUIRED = {
    "missing-model",
    "wrong-password",
    "missing-secret",
    "secret-without-keys",
    "no-manage-ml",
    "capacity-429",
    "deployment-id-taken",
    "tls-wrong-ca",
    "plain-http-credentials",
    "eck-missing-service",
    "old-version",
}
OTHER_MODEL = "other-pytorch-model"
WINDOW = 4 * RESYNC  # the steady window in which requests are counted
#: Requests (plus failed connections) one broken resource may cause per resync interval: GET / and _stats.
MAX_PER_RESYNC = 2
#: Capacity reads, counted on their own (issue 22: at most one of each per cluster per resync interval).
CAPACITY_READS = ("/_ml/info", "/_ml/memory/_stats")


def is_capacity_read(path: str) -> bool:
    return path.split("?")[0].startswith(CAPACITY_READS)


@dataclass(frozen=True)
class Case:
    name: str
    reason: str
    messages: tuple[str, ...]
    text: str

    @property
    def proxied(self) -> bool:
        return "$URL" in self.text


def parse(path: Path) -> Case:
    directives = re.findall(r"^#\s*(reason|message):\s*(.*?)\s*$", path.read_text(), re.MULTILINE)
    reasons = [v for k, v in directives if k == "reason"]
    assert len(reasons) == 1, f"{path.name}: exactly one '# reason:' line"
    return Case(path.stem, reasons[0], tuple(v for k, v in directives if k == "message"), path.read_text())


CASES = [parse(f) for f in FILES]


def test_the_catalogue_covers_what_the_issue_lists() -> None:
    assert {c.name for c in CASES} >= REQUIRED, sorted(REQUIRED - {c.name for c in CASES})
    assert all(c.messages for c in CASES), [c.name for c in CASES if not c.messages]


def stalled(obj: dict[str, Any]) -> dict[str, Any] | None:
    for cond in obj.get("status", {}).get("conditions", []):
        if cond["type"] == "Stalled" and cond["status"] == "True":
            return dict(cond)
    return None


def setup_world(env: Env) -> tuple[dict[str, str], dict[str, PlantedSimulator]]:
    """The clusters and Secrets the catalogue refers to: the placeholder values (but ``$URL``) and the simulators."""
    from harness.certs import TinyCA

    sim = env.simulator(models=(DEMO_MODEL, OTHER_MODEL))
    plain = env.simulator(tls=False)
    old = env.simulator(es_version="8.5.0")
    env.secrets(sim)
    env.secrets(old, credentials="old-credentials", ca="old-ca")
    kube, planted = env.kube, env.planted
    kube.secret("wrong-password", {"username": "elastic", "password": planted.wrong_password})
    kube.secret("forged-api-key", {"api_key": planted.forged_api_key})
    kube.secret("no-keys", {"user": "elastic"})
    made = sim.es(
        "POST",
        "/_security/api_key",
        {"name": "reader", "role_descriptors": {"r": {"cluster": ["monitor", "monitor_ml"]}}},
    )
    made.raise_for_status()
    planted.extra.append(made.json()["encoded"])
    kube.secret("monitor-only", {"api_key": made.json()["encoded"]})
    other = TinyCA(env.tmp / "other-ca", "not-the-simulators-ca")
    kube.secret("other-ca", {"ca.crt": other.cert.read_bytes(), "ca.key": planted.add_ca_key(other.key)})
    kube.secret("ghost-es-elastic-user", {"elastic": planted.password})
    kube.secret("ghost-es-http-certs-public", {"ca.crt": sim.ca_pem})
    response = sim.es(
        "POST",
        f"/_ml/trained_models/{OTHER_MODEL}/deployment/_start",
        deployment_id="taken-by-other",
        wait_for="started",
    )
    assert response.status_code == 200, response.text
    values = {"PLAIN_URL": plain.url.replace("127.0.0.1", "localhost"), "OLD_URL": old.local_url, "MODEL": DEMO_MODEL}
    return values, {"main": sim, "plain": plain, "old": old}


def test_every_runtime_invalid_resource_gets_a_clear_condition_and_bounded_calls(env: Env) -> None:
    values, sims = setup_world(env)
    proxies: dict[str, FaultProxy] = {}
    op = env.operator()
    for case in CASES:
        url = ""
        if case.proxied:
            proxies[case.name] = env.proxy(sims["main"])
            url = proxies[case.name].url
        body = yaml.safe_load(Template(case.text).substitute(values, URL=url))
        env.kube.apply(
            {"apiVersion": "esml.io/v1alpha1", "kind": "ModelDeployment", "metadata": {"name": case.name}, **body}
        )

    def objects() -> dict[str, dict[str, Any]]:
        import json

        items = json.loads(env.kube.kubectl("get", "mdep", "-o", "json").stdout)["items"]
        return {item["metadata"]["name"]: item for item in items}

    def mismatches(found: dict[str, dict[str, Any]]) -> list[str]:
        wrong = []
        for case in CASES:
            cond = stalled(found.get(case.name, {}))
            if cond is None or cond["reason"] != case.reason:
                wrong.append(f"{case.name}: expected Stalled {case.reason}, got {cond and cond['reason']}")
                continue
            wrong += [
                f"{case.name}: {m!r} not in {cond['message']!r}" for m in case.messages if m not in cond["message"]
            ]
        return wrong

    def all_stalled() -> dict[str, dict[str, Any]]:
        found = objects()  # many resources at once: poll them all in one kubectl call
        wrong = mismatches(found)
        assert not wrong, "\n".join(wrong)
        return found

    found = wait_for(all_stalled, timeout=90, interval=0.5, what="every case Stalled with its reason")
    for case in CASES:
        conditions = {c["type"]: c for c in found[case.name]["status"]["conditions"]}
        assert conditions["Ready"]["status"] == "False" and conditions["Ready"]["message"], (case.name, conditions)
        assert not any("Traceback" in c["message"] for c in conditions.values()), (case.name, conditions)

    # Bounded calls: count what each case causes over a few resync intervals once it is reported.
    start = time.time()
    time.sleep(WINDOW)  # counting calls per window needs the window's time: nothing to wait for
    counts = {
        name: len([r for r in p.seen(since=start) if not is_capacity_read(r.path)])
        + len([c for c in p.connects(since=start) if c.mode != "pass"])
        for name, p in proxies.items()
    }
    # A deployment short of capacity may also read _ml/info and _ml/memory/_stats: at most one each per interval.
    capacity_reads = {
        (name, path): len(p.seen(since=start, path=path)) for name, p in proxies.items() for path in CAPACITY_READS
    }
    assert all(n <= WINDOW / RESYNC + 1 for n in capacity_reads.values()), capacity_reads
    counts |= {name: len(p.connects(since=start)) for name, p in proxies.items() if name.startswith("tls-")}
    counts["old-version"] = len([r for r in sims["old"].requests() if r["wall_time"] >= start])
    counts["plain-http-credentials"] = len(sims["plain"].requests())  # ever: the credentials never left
    bound = WINDOW / RESYNC * MAX_PER_RESYNC + 2
    print(f"requests per case in {WINDOW:.0f}s: {counts}")
    assert counts["plain-http-credentials"] == 0
    assert all(n <= bound for n in counts.values()), f"more than {bound:.0f} requests in {WINDOW:.0f}s: {counts}"
    assert op.process.alive(), op.process.log_tail()
    env.record(
        scenario="runtime-invalid catalogue",
        faults=len(CASES),
        cases={c.name: c.reason for c in CASES},
        requests_per_case=counts,
    )
