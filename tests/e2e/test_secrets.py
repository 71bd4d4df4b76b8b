"""Secrets never leak: not into status, not into events, not into the operator's log.

The scenarios deliberately produce errors with credentials in play (a wrong
password, a forged API key, a key lacking privileges, plain HTTP refused, a
wrong CA), then recover, and finally search every place a person can read for
the secret strings, raw and in the encodings that travel on the wire.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from harness.certs import TinyCA
from harness.polling import wait_for
from tests.e2e.conftest import Kube, model_deployment, ready
from tests.support.operator import OperatorProcess
from tests.support.simulator import ELASTIC_PASSWORD, SimulatorProcess

WRONG_PASSWORD = "Wr0ng-Pa55-do-not-leak"


def stalled_with(kube: Kube, name: str, reason: str) -> bool:
    found = kube.condition(name, "Stalled")
    return bool(found and found["status"] == "True" and found["reason"] == reason)


def forms(secret: str) -> set[str]:
    """The secret and what it looks like base64-encoded (in a Secret's data, in an Authorization header)."""
    out = {secret, base64.b64encode(secret.encode()).decode()}
    try:
        decoded = base64.b64decode(secret, validate=True).decode()
    except ValueError:
        decoded = ""
    if ":" in decoded:  # an encoded API key: id:key; the key part is the secret
        out.add(decoded.split(":", 1)[1])
    return {s for s in out if len(s) >= 8}


def basic_header(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def assert_nowhere(secrets: Iterable[str], places: dict[str, str]) -> None:
    for secret in secrets:
        for where, text in places.items():
            assert secret not in text, f"a secret ({secret[:3]}…) leaked into {where}"


def readable_places(kube: Kube, operator: OperatorProcess, names: Iterable[str]) -> dict[str, str]:
    places = {f"status of {name}": json.dumps(kube.mdep(name).get("status", {})) for name in names}
    events = kube.kubectl("get", "events", "-o", "json").stdout
    places["events"] = events
    places["operator log"] = operator.log
    return places


def test_no_secret_leaks_through_error_scenarios(
    kube: Kube,
    simulator: SimulatorProcess,
    es_url: str,
    operator_factory: Callable[..., OperatorProcess],
    tmp_path: Path,
) -> None:
    operator = operator_factory()
    kube.secret("es-ca", {"ca.crt": simulator.ca_pem})
    good_key = simulator.create_api_key("good")
    weak = simulator.es(
        "POST", "/_security/api_key", {"name": "weak", "role_descriptors": {"r": {"cluster": ["monitor_ml"]}}}
    )
    weak_key = str(weak.json()["encoded"])
    key_id = base64.b64decode(good_key).decode().split(":", 1)[0]
    forged_key = base64.b64encode(f"{key_id}:forged-key-do-not-leak".encode()).decode()

    # 1. Wrong password (401), then the right one.
    kube.secret("basic", {"username": "elastic", "password": WRONG_PASSWORD})
    kube.apply(model_deployment("basic", es_url, credentials="basic"))
    wait_for(lambda: stalled_with(kube, "basic", "security_exception"), what="basic: 401")
    # Each resource names its own deployment: two resources on one deployment would be a DeploymentConflict.
    # 2. A forged API key (401) and 3. a key lacking privileges (403).
    kube.secret("forged", {"api_key": forged_key})
    kube.apply(
        model_deployment("forged", es_url, deploymentId="forged-dep", credentials="forged", model="lang_ident_model_1")
    )
    kube.secret("weak", {"api_key": weak_key})
    kube.apply(
        model_deployment("weak", es_url, deploymentId="weak-dep", credentials="weak", model="lang_ident_model_1")
    )
    wait_for(lambda: stalled_with(kube, "forged", "security_exception"), what="forged: 401")
    wait_for(lambda: stalled_with(kube, "weak", "security_exception"), what="weak: 403")
    # 4. An untrusted certificate (wrong CA) with a good key.
    other = TinyCA(tmp_path / "other-ca", "other-ca")
    kube.secret("other-ca", {"ca.crt": other.cert.read_bytes()})
    kube.secret("good", {"api_key": good_key})
    kube.apply(
        model_deployment(
            "tls", es_url, deploymentId="tls-dep", credentials="good", ca="other-ca", model="lang_ident_model_1"
        )
    )
    wait_for(lambda: stalled_with(kube, "tls", "TLSError"), what="tls: untrusted")
    # 5. Credentials over plain http:// (refused before anything is sent).
    kube.apply(
        model_deployment(
            "plain", es_url.replace("https://", "http://"), deploymentId="plain-dep", credentials="basic", ca=None
        )
    )
    wait_for(lambda: stalled_with(kube, "plain", "InsecureConnectionError"), what="plain: refused")
    # Recovery: the right password.
    kube.secret("basic", {"username": "elastic", "password": ELASTIC_PASSWORD})
    wait_for(lambda: ready(kube, "basic"), what="basic: Ready after the fix")

    secrets = set()
    for secret in (WRONG_PASSWORD, ELASTIC_PASSWORD, good_key, weak_key, forged_key):
        secrets |= forms(secret)
    secrets |= {basic_header("elastic", WRONG_PASSWORD), basic_header("elastic", ELASTIC_PASSWORD)}
    places = readable_places(kube, operator, ["basic", "forged", "weak", "tls", "plain"])
    assert "security_exception" in places["events"]  # the events are there, and say what went wrong
    assert_nowhere(secrets, places)
    assert operator.process.alive()


def test_no_secret_leaks_from_an_eck_reference(
    kube: Kube, simulator: SimulatorProcess, operator_factory: Callable[..., OperatorProcess]
) -> None:
    """The ECK elastic user's password, wrong then right, appears nowhere either."""
    from tests.e2e.test_connections import ECK_NAME, eck_manifest, eck_objects

    eck_objects(kube, simulator, password=WRONG_PASSWORD)
    operator = operator_factory("--eck-url-template", "https://localhost:{port}")
    kube.apply(eck_manifest("ner", {"name": ECK_NAME}))
    wait_for(lambda: stalled_with(kube, "ner", "security_exception"), what="ECK: 401")
    eck_objects(kube, simulator)  # ECK's objects again, with the right password
    wait_for(lambda: ready(kube, "ner"), what="ECK: Ready after the password was fixed")
    secrets = forms(WRONG_PASSWORD) | forms(ELASTIC_PASSWORD)
    secrets |= {basic_header("elastic", WRONG_PASSWORD), basic_header("elastic", ELASTIC_PASSWORD)}
    assert_nowhere(secrets, readable_places(kube, operator, ["ner"]))
