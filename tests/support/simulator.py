"""Run the Elasticsearch simulator as a real process (TLS and security on by default)."""

from __future__ import annotations

import json
import ssl
import tempfile
from pathlib import Path
from typing import Any

import httpx

from harness.certs import TinyCA
from harness.commands import simulator_argv
from harness.polling import wait_for
from harness.process import Process

DEMO_MODEL = "elastic__distilbert-base-uncased-finetuned-conll03-english"
ELASTIC_PASSWORD = "sim-elastic-Pa55"  # a test-only secret; asserted never to leak


class SimulatorProcess:
    def __init__(
        self,
        workdir: Path | None = None,
        *,
        tls: bool = True,
        es_version: str | None = None,
        nodes: int = 2,
        allocation_delay: float = 0.5,
        models: tuple[str, ...] = (DEMO_MODEL,),
        extra: tuple[str, ...] = (),
        hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
        detach: bool = False,
    ) -> None:
        self.dir = (workdir or Path(tempfile.mkdtemp(prefix="esml-sim-"))).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tls = tls
        self.ca: TinyCA | None = None
        cert_and_key = None
        if tls:
            self.ca = TinyCA(self.dir / "pki", "esml-simulator-ca")
            pair = self.ca.server("es-http", list(hosts))
            cert_and_key = (pair.cert, pair.key)
        version = ("--es-version", es_version) if es_version else ()
        self.argv = argv = simulator_argv(
            self.dir / "ready.json",
            nodes=nodes,
            allocation_delay=allocation_delay,
            models=models,
            tls=cert_and_key,
            extra=("--elastic-password", ELASTIC_PASSWORD, *version, *extra),
        )
        (self.dir / "ready.json").unlink(missing_ok=True)  # never mistake a previous run's file for readiness
        self.process = Process(
            "simulator", argv, self.dir / "simulator.log", detach=detach, pid_file=self.dir / "simulator.pid"
        )
        ready = self.dir / "ready.json"
        wait_for(ready.exists, timeout=30, what="the simulator's ready file", processes=[self.process])
        self.url: str = json.loads(ready.read_text())["url"]
        self.port = int(self.url.rsplit(":", 1)[1])

    @property
    def ca_pem(self) -> bytes:
        assert self.ca is not None
        return self.ca.cert.read_bytes()

    def http(self) -> httpx.Client:
        verify: Any = ssl.create_default_context(cafile=str(self.ca.cert)) if self.ca else True
        return httpx.Client(base_url=self.url, verify=verify, auth=("elastic", ELASTIC_PASSWORD), timeout=10)

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        with self.http() as client:
            response = client.request(method, f"/_sim/{path.lstrip('/')}", json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    def es(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        with self.http() as client:
            return client.request(method, path, json=body, params=params or None)

    def create_api_key(self, name: str = "esml-operator") -> str:
        """An API key (the base64 ``encoded`` form) created through ``POST /_security/api_key``."""
        response = self.es("POST", "/_security/api_key", {"name": name})
        response.raise_for_status()
        return str(response.json()["encoded"])

    def requests(self, path_contains: str = "", method: str | None = None) -> list[dict[str, Any]]:
        recorded = self.admin("GET", "requests")
        items = recorded["requests"] if isinstance(recorded, dict) else recorded
        return [r for r in items if path_contains in r["path"] and (method is None or r["method"] == method)]

    def deployment(self, deployment_id: str) -> dict[str, Any] | None:
        response = self.es("GET", f"/_ml/trained_models/{deployment_id}/_stats")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        for entry in response.json()["trained_model_stats"]:
            stats = entry.get("deployment_stats")
            # Before 8.8 there is no deployment_id: the deployment id is the model id.
            if stats and stats.get("deployment_id", stats.get("model_id")) == deployment_id:
                return dict(stats)
        return None

    def stop(self) -> None:
        self.process.stop(timeout=10)
