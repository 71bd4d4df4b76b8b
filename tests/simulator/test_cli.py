"""The real command as a subprocess (``--port 0 --ready-file``), TLS, and the REST layer's generic errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import AsyncElasticsearch

from esml_simulator.cli import build_parser, config_from_args

from .conftest import MODEL, Http, SimFactory

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 20.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return dict(json.loads(path.read_text()))
        if proc.poll() is not None:
            raise AssertionError(f"simulator exited early: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.02)
    raise AssertionError("simulator did not become ready")


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, object], Path]]:
    ready = tmp_path / "ready.json"
    state = tmp_path / "state.json"
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("esml-simulator")),  # the console script of the distribution
            "--port",
            "0",
            "--ready-file",
            str(ready),
            "--model",
            MODEL,
            "--model-size",
            "2kb",
            "--allocation-delay",
            "0",
            "--state-file",
            str(state),
            "--user",
            "ops:secret:manage_ml",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        info = _wait_for(ready, proc)
        yield proc, info, state
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


async def test_cli_subprocess_serves_and_shuts_down_cleanly(
    launched: tuple[subprocess.Popen[str], dict[str, object], Path],
) -> None:
    proc, info, state = launched
    assert info["pid"] == proc.pid
    url = str(info["url"])
    assert url.startswith("http://127.0.0.1:")
    async with AsyncElasticsearch(url, basic_auth=("ops", "secret")) as es:
        resp = await es.ml.start_trained_model_deployment(model_id=MODEL)
        assert resp["assignment"]["assignment_state"] == "started"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stdout is not None
    assert proc.stdout.read() == f"esml-simulator listening on {url}\n"
    assert [d["deployment_id"] for d in json.loads(state.read_text())["deployments"]] == [MODEL]


def test_cli_flags_map_to_config() -> None:
    args = build_parser().parse_args(
        [
            "--port",
            "0",
            "--nodes",
            "3",
            "--processors",
            "8",
            "--node-memory",
            "16gb",
            "--no-security",
            "--can-scale",
            "--es-version",
            "8.15.0",
            "--user",
            "a:b:c:monitor_ml",
            "--api-key",
            "id:key:manage_ml",
            "--allocation-delay",
            "2s",
            "--adaptive-interval",
            "5",
            "--model",
            "m",
            "--fake-clock",
        ]
    )
    config = config_from_args(args)
    assert (config.nodes, config.processors, config.node_memory) == (3, 8, 16 * 1024**3)
    assert not config.security and config.can_scale and config.fake_clock
    assert config.users == [("a", "b:c", "monitor_ml")]
    assert config.api_keys == [("id", "key", "manage_ml")]
    assert (config.allocation_delay, config.adaptive_interval, config.es_version) == (2.0, 5.0, "8.15.0")


def test_cli_scaling_flags_map_to_config() -> None:
    config = config_from_args(build_parser().parse_args(["--max-lazy-ml-nodes", "3", "--max-ml-node-size", "16gb"]))
    assert (config.max_lazy_ml_nodes, config.max_ml_node_size, config.can_scale) == (3, 16 * 1024**3, False)
    default = config_from_args(build_parser().parse_args([]))
    assert (default.max_lazy_ml_nodes, default.max_ml_node_size) == (0, 0)


def test_cli_rejects_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--user", "x:y:root"], ["--es-version", "7.10.0"], ["--node-memory", "lots"]):
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args(argv)
        assert exit_info.value.code == 2


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls(make_sim: SimFactory, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    sim = await make_sim(tls_cert=str(cert), tls_key=str(key))
    assert sim.url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=str(cert))
    async with AsyncElasticsearch(sim.url, basic_auth=("elastic", "changeme"), ssl_context=context) as es:
        assert (await es.info())["tagline"] == "You Know, for Search"


async def test_wrong_method_is_405(http: Http) -> None:
    r = await http("GET", f"/_ml/trained_models/{MODEL}/deployment/_start")
    assert r.status == 405
    assert r.body["error"] == (
        f"Incorrect HTTP method for uri [/_ml/trained_models/{MODEL}/deployment/_start] "
        "and method [GET], allowed: [POST]"
    )


async def test_unknown_path_is_400(http: Http) -> None:
    r = await http("GET", "/_nope")
    assert (r.status, r.body) == (400, {"error": "no handler found for uri [/_nope] and method [GET]"})


async def test_non_json_content_type_is_406(http: Http) -> None:
    r = await http(
        "POST", f"/_ml/trained_models/{MODEL}/deployment/_update", data=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert r.status == 406


async def test_malformed_json_body(http: Http) -> None:
    r = await http(
        "POST",
        f"/_ml/trained_models/{MODEL}/deployment/_update",
        data=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert (r.status, r.error_type) == (400, "x_content_parse_exception")


@pytest.mark.parametrize(
    ("params", "error_type", "reason"),
    [
        (
            {"number_of_allocations": "two"},
            "illegal_argument_exception",
            "Failed to parse int parameter [number_of_allocations] with value [two]",
        ),
        (
            {"wait_for": "done"},
            "illegal_argument_exception",
            "No enum constant org.elasticsearch.xpack.core.ml.inference.assignment.AllocationStatus.State.DONE",
        ),
        (
            {"priority": "high"},
            "illegal_argument_exception",
            "No enum constant org.elasticsearch.xpack.core.ml.inference.assignment.Priority.HIGH",
        ),
        (
            {"timeout": "soon"},
            "parse_exception",
            "failed to parse setting [timeout] with value [soon] as a time value: unit is missing or unrecognized",
        ),
        (
            {"cache_size": "huge"},
            "parse_exception",
            "failed to parse setting [cache_size] with value [huge] as a size in bytes: unit is missing or "
            "unrecognized",
        ),
    ],
)
async def test_parameter_parse_errors(http: Http, params: dict[str, str], error_type: str, reason: str) -> None:
    r = await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_start", params=params)
    assert (r.status, r.error_type, r.reason) == (400, error_type, reason)


async def test_boolean_parse_error(http: Http) -> None:
    r = await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_stop", params={"force": "yes"})
    assert r.reason == "Failed to parse value [yes] as only [true] or [false] are allowed."


async def test_start_body_model_id_must_match(http: Http) -> None:
    r = await http("POST", f"/_ml/trained_models/{MODEL}/deployment/_start", {"model_id": "x"})
    assert (r.status, r.error_type) == (400, "status_exception")


def test_module_entry_point_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "esml_simulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ},
    )
    assert "--ready-file" in out.stdout
