"""Run ``esml-operator run`` as a real process against the local control plane."""

from __future__ import annotations

import os
import tempfile
import urllib.request
import uuid
from pathlib import Path

from harness.commands import operator_argv
from harness.polling import wait_for
from harness.process import Process
from harness.runner import free_port


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: Path,
        *,
        namespaces: tuple[str, ...] = (),
        resync_interval: float = 3.0,
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        workdir: Path | None = None,
        detach: bool = False,
        lease: str | None = None,
    ) -> None:
        """``lease``: the leader-election Lease name (in the first namespace, or ``default``). Processes given the
        same name elect one leader; by default each process gets a Lease of its own, so tests never compete."""
        self.dir = (workdir or Path(tempfile.mkdtemp(prefix="esml-op-"))).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.health_port = free_port()
        self.metrics_port = free_port()  # replicas on one machine each need a port of their own
        self.lease = lease or f"esml-{uuid.uuid4().hex[:10]}"
        self.identity = f"op-{uuid.uuid4().hex[:8]}"
        election = [
            "--lease-name",
            self.lease,
            "--lease-namespace",
            namespaces[0] if namespaces else "default",
            "--identity",
            self.identity,
        ]
        self.argv = argv = operator_argv(
            kubeconfig,
            namespaces,
            resync_interval=resync_interval,
            health_port=self.health_port,
            metrics_port=self.metrics_port,
            log_level="DEBUG",
            extra=("--min-poll-interval", str(min(0.5, resync_interval)), *election, *extra),
        )
        self.process = Process(
            "operator",
            argv,
            self.dir / "operator.log",
            detach=detach,
            pid_file=self.dir / "operator.pid",
            env={**os.environ, **(env or {})},
        )
        wait_for(self.healthy, timeout=60, what="the operator's liveness endpoint", processes=[self.process])

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=1) as resp:
            return bool(resp.status == 200)

    def metrics(self) -> str:
        """The Prometheus text the operator serves at /metrics."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    @property
    def log(self) -> str:
        return (self.dir / "operator.log").read_text(errors="replace")

    def stop(self) -> None:
        self.process.stop(timeout=15)
