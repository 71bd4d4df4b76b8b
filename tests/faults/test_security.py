"""Security: TLS verification on by default, plain http with credentials only when allowed, and the leak scan.

Every test of this suite ends with the planted-secret scan (conftest ``Env.finish``): the operator's DEBUG
log and tracebacks, its metrics, the Events and the ModelDeployments. This file proves the scan can find
what it looks for, that it really reads those places, and the two connection rules.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from harness.polling import wait_for
from harness.status import converged
from tests.faults.conftest import Env, condition, mdep
from tests.faults.leaks import Planted, exception_texts, scan


@pytest.mark.faults_smoke
def test_the_scan_finds_every_form_of_a_planted_secret(tmp_path: Path) -> None:
    planted = Planted()
    key_file = tmp_path / "ca.key"
    key_file.write_text(
        "-----BEGIN PRIVATE KEY-----\n" + "QUJD" * 16 + "\n" + "REVG" * 10 + "\n-----END PRIVATE KEY-----\n"
    )
    planted.add_ca_key(key_file)
    leaks = {
        "raw password": f"connecting with {planted.password}",
        "base64 password": base64.b64encode(planted.password.encode()).decode(),
        "basic header": "Authorization: Basic " + base64.b64encode(f"elastic:{planted.password}".encode()).decode(),
        "api key header": f"Authorization: ApiKey {planted.api_key}",
        "api key secret": f"key={planted.api_key_secret}",
        "ca key line": "QUJD" * 16,
        "wrong password": planted.wrong_password,
    }
    for where, text in leaks.items():
        assert scan(planted, {where: text}).hits, f"the scan missed a {where}"
    assert not scan(planted, {"clean": "Could not reach Elasticsearch at https://localhost:9200"}).hits
    log = 'x\nTraceback (most recent call last):\n  File "a.py", line 1, in f\nValueError: bad\nnext line\n'
    assert list(exception_texts(log)) == [
        'Traceback (most recent call last):\n  File "a.py", line 1, in f\nValueError: bad\n'
    ]


@pytest.mark.faults_smoke
def test_tls_verification_is_on_by_default(env: Env) -> None:
    sim = env.simulator()
    env.secrets(sim)
    op = env.operator()
    manifest = mdep("no-ca", sim.local_url)
    del manifest["spec"]["elasticsearch"]["caSecretRef"]
    env.kube.apply(manifest)
    env.kube.apply(mdep("with-ca", sim.local_url, deploymentId="with-ca"))
    refused = wait_for(lambda: condition(env.kube, "no-ca", "Stalled", "True"), what="no-ca refused")
    assert refused["reason"] == "TLSError" and "not trusted" in refused["message"], refused
    assert env.kube.mdep("no-ca")["spec"]["elasticsearch"]["insecureSkipTLSVerify"] is False  # the CRD default
    wait_for(lambda: converged(env.kube.mdep("with-ca"), 1), what="with-ca Ready")
    # The scan below (and at teardown) really reads the metrics: they are there, and they name the requests.
    assert "esml_elasticsearch_requests_total" in op.metrics()


def test_plain_http_with_credentials_is_refused_unless_allowed(env: Env) -> None:
    plain = env.simulator(tls=False)
    env.kube.secret("es-credentials", {"username": "elastic", "password": env.planted.password})
    url = plain.url.replace("127.0.0.1", "localhost")
    refusing = env.operator()
    env.kube.apply(mdep("plain", url))
    refused = wait_for(lambda: condition(env.kube, "plain", "Stalled", "True"), what="refused")
    assert refused["reason"] == "InsecureConnectionError", refused
    assert plain.requests() == []  # the credentials never left the operator
    refusing.stop()
    env.operator("--allow-plain-http-credentials")
    wait_for(lambda: converged(env.kube.mdep("plain"), 1), what="Ready once plain http is allowed")
    env.record(scenario="plain http with credentials", faults=1, resources=1, converged=1)
