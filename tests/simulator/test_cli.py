"""The real command as a subprocess (``--port 0 --ready-file``), TLS, and the REST layer's generic errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import AsyncElasticsearch, AuthenticationException

from esml_simulator.cli import build_parser, config_from_args, configs_from_args, main
from harness.commands import SIMULATOR
from harness.polling import wait_for
from harness.process import Piped

from .conftest import MODEL, Http, SimFactory

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 20.0) -> dict[str, object]:
    """The ready file's content, once the simulator wrote it; fails at once, with its stderr, if it exits."""
    wait_for(path.exists, timeout=timeout, what="the simulator's ready file", processes=[Piped("esml-simulator", proc)])
    return dict(json.loads(path.read_text()))


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
        _end(proc)


def _end(proc: subprocess.Popen[str]) -> None:
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


@pytest.fixture
def two_clusters(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    ready = tmp_path / "ready.json"
    script = str(Path(sys.executable).with_name("esml-simulator"))
    argv = [script, "--clusters", "2", "--port", "0", "--ready-file", str(ready), "--ephemeral"]
    argv += ["--model", MODEL, "--model-size", "2kb", "--allocation-delay", "0"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        info = _wait_for(ready, proc)
        assert info["pid"] == proc.pid
        assert isinstance(info["urls"], list)
        urls = [str(url) for url in info["urls"]]
        assert info["url"] == urls[0]
        yield proc, urls
    finally:
        _end(proc)


async def test_one_process_serves_two_independent_clusters(
    two_clusters: tuple[subprocess.Popen[str], list[str]],
) -> None:
    """``--clusters 2``: two ports, two clusters: own uuid, name, nodes, deployments and credentials."""
    proc, urls = two_clusters
    assert len(set(urls)) == 2
    first, second = (AsyncElasticsearch(url, basic_auth=("elastic", "changeme")) for url in urls)
    async with first, second:
        infos = [await first.info(), await second.info()]
        assert infos[0]["cluster_uuid"] != infos[1]["cluster_uuid"]
        assert [i["cluster_name"] for i in infos] == ["esml-simulator-0", "esml-simulator-1"]
        nodes = [set((await es.ml.get_memory_stats())["nodes"]) for es in (first, second)]
        assert len(nodes[0]) == len(nodes[1]) == 2
        assert nodes[0].isdisjoint(nodes[1])

        await first.ml.start_trained_model_deployment(model_id=MODEL)
        stats = [
            (await es.ml.get_trained_models_stats(model_id=MODEL))["trained_model_stats"][0] for es in (first, second)
        ]
        assert stats[0]["deployment_stats"]["allocation_status"]["state"] == "fully_allocated"
        assert "deployment_stats" not in stats[1]

        key = (await first.security.create_api_key(name="only-the-first"))["encoded"]
        async with AsyncElasticsearch(urls[0], api_key=key) as keyed:
            assert (await keyed.security.authenticate())["api_key"]["name"] == "only-the-first"
        async with AsyncElasticsearch(urls[1], api_key=key) as keyed:
            with pytest.raises(AuthenticationException):
                await keyed.security.authenticate()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stdout is not None
    assert proc.stdout.read().splitlines() == [f"esml-simulator listening on {url}" for url in urls]


def test_clusters_get_consecutive_ports_own_names_and_state_files(tmp_path: Path) -> None:
    environ = {"XDG_STATE_HOME": str(tmp_path)}
    configs = configs_from_args(
        build_parser().parse_args(["--clusters", "3", "--port", "9300", "--model", "m"]), environ
    )
    assert [c.port for c in configs] == [9300, 9301, 9302]
    assert [c.cluster_name for c in configs] == ["esml-simulator-0", "esml-simulator-1", "esml-simulator-2"]
    assert [c.state_file for c in configs] == [
        str(tmp_path / "esml-simulator" / str(p) / "state.json") for p in (9300, 9301, 9302)
    ]
    assert configs[0].models == configs[1].models == ["m"]
    assert configs[0].models is not configs[1].models
    free = configs_from_args(build_parser().parse_args(["--clusters", "2", "--port", "0"]), environ)
    assert [(c.port, c.state_file) for c in free] == [(0, None), (0, None)]
    (single,) = configs_from_args(build_parser().parse_args(["--port", "9300"]), environ)
    assert single.cluster_name == "esml-simulator"  # one cluster: named and stored as without --clusters


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--clusters", "0"], "--clusters must be >= 1"),
        (["--clusters", "2", "--state-file", "s.json"], "--state-file names one cluster's file"),
        (["--clusters", "3", "--port", "65534"], "must be a port number"),
    ],
)
def test_clusters_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


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
        [*SIMULATOR, "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ},
    )
    assert "--ready-file" in out.stdout
