"""The processes a bench run starts: simulators, operators, the naive baseline, the bare watcher.

Every child is a ``harness.process.Process``: its own process group,
and ``PR_SET_PDEATHSIG`` so the kernel kills it if the bench dies, even by
SIGKILL. They are all spawned from the main thread (the death signal follows
the thread that forked), and ``Fleet`` stops them in reverse order on exit.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.kube import Credentials
from harness.commands import OPERATOR, OPERATOR_MODULE, SIMULATOR, operator_argv, simulator_argv
from harness.polling import wait_for_async
from harness.process import Process, stop_pid
from harness.runner import free_port

MODEL = "bench-model"
API_KEY_ID, API_KEY_SECRET = "bench", "bench-api-key-secret"
API_KEY = base64.b64encode(f"{API_KEY_ID}:{API_KEY_SECRET}".encode()).decode()
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Tls:
    """The simulators' CA and their one server certificate (valid for localhost and 127.0.0.1)."""

    ca: Path
    cert: Path
    key: Path


class Fleet:
    """Owns every child process of the run; ``stop_all`` is safe to call more than once."""

    def __init__(self, source: Path | None = None, profile: Path | None = None) -> None:
        self.processes: list[Process] = []
        # Another checkout's package directory, first on the children's PYTHONPATH (to bench that one).
        self.source = source
        # Where py-spy writes the operators' CPU profiles (``--profile``), or None.
        self.profile_dir = profile
        # Where figure 7's operator writes its tracemalloc snapshots (``--profile-memory``), or None.
        self.memory_dir: Path | None = None

    def spawn(self, name: str, argv: Sequence[str], directory: Path, env: dict[str, str] | None = None) -> Process:
        directory.mkdir(parents=True, exist_ok=True)
        log, pid_file = directory / f"{name}.log", directory / f"{name}.pid"
        proc = Process(name, argv, log, detach=False, pid_file=pid_file, env={**child_env(self.source), **(env or {})})
        self.processes.append(proc)
        return proc

    def profile(self, pid: int, name: str, seconds: float | None = None) -> Process | None:
        """Sample process ``pid`` with py-spy until it exits or for ``seconds`` (collapsed stacks in
        ``<profile>/<name>.txt``), if profiling.

        ``--nonblocking`` reads the target's memory without pausing it, so the latency it measures is not inflated;
        ``--gil`` samples only the thread that holds the GIL: Python CPU, which is what the next change waits behind.
        """
        if self.profile_dir is None:
            return None
        spy = Path(sys.executable).with_name("py-spy")
        out = self.profile_dir / f"{name}.txt"
        argv = [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--rate",
            "1000",
            "--nonblocking",
            "--gil",
            "--format",
            "raw",
            "--output",
            str(out),
            *(["--duration", str(max(1, round(seconds)))] if seconds else []),
        ]
        return self.spawn(f"py-spy-{name}", argv, self.profile_dir)

    def stop(self, proc: Process, *, timeout: float = 15.0) -> None:
        proc.stop(timeout=timeout)
        if proc in self.processes:
            self.processes.remove(proc)

    def kill(self, proc: Process) -> None:
        """SIGKILL, no goodbye (what a node failure or an OOM kill does)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.popen.wait(timeout=10)
        proc.pid_file.unlink(missing_ok=True)
        if proc in self.processes:
            self.processes.remove(proc)

    def stop_all(self) -> None:
        while self.processes:
            proc = self.processes.pop()
            try:
                stop_pid(proc.pid, timeout=10, reap=proc.popen)
            except Exception as error:  # keep stopping the others
                print(f"bench: could not stop {proc.name} ({proc.pid}): {error}", file=sys.stderr)


# -- the Elasticsearch simulator ----------------------------------------------------------------
@dataclass
class Simulator:
    name: str
    proc: Process
    ready_file: Path
    ca: Path
    index: int = 0  # which of its process's clusters (``--clusters``)
    url: str = ""


def spawn_simulators(
    fleet: Fleet, directory: Path, count: int, *, tls: Tls, prefix: str, allocation_delay: float, per_process: int = 1
) -> list[Simulator]:
    """``count`` simulated clusters with room for 100 deployments of up to 32 allocations each (4 nodes x 1024
    cores), ``per_process`` of them in each process (``esml-simulator --clusters``: each its own port and uuid)."""
    sims = []
    for first in range(0, count, per_process):
        clusters = min(per_process, count - first)
        name = f"{prefix}{first:02d}"
        ready = directory / name / "ready.json"
        ready.unlink(missing_ok=True)
        argv = simulator_argv(
            ready,
            nodes=4,
            allocation_delay=allocation_delay,
            models=[MODEL],
            tls=(tls.cert, tls.key),
            extra=[
                *("--processors", "1024", "--node-memory", "256gb", "--model-size", "1mb", "--cluster-name", name),
                *("--api-key", f"{API_KEY_ID}:{API_KEY_SECRET}:superuser"),
                *(["--clusters", str(clusters)] if clusters > 1 else []),
            ],
        )
        proc = fleet.spawn(name, argv, directory / name)
        names = [f"{name}-{k}" for k in range(clusters)] if clusters > 1 else [name]
        sims += [Simulator(n, proc, ready, tls.ca, index=k) for k, n in enumerate(names)]
    return sims


def simulator_clusters(source: Path | None) -> bool:
    """Whether this simulator serves several clusters from one process (``--clusters``)."""
    argv = [*SIMULATOR, "--help"]
    usage = subprocess.run(argv, capture_output=True, text=True, check=False, env=child_env(source)).stdout
    return "--clusters" in usage


async def wait_simulators(sims: Sequence[Simulator]) -> None:
    for sim in sims:
        await wait_for_async(sim.ready_file.exists, within=60, what=f"simulator {sim.name}", processes=[sim.proc])
        ready = json.loads(sim.ready_file.read_text())
        sim.url = ready["urls"][sim.index] if "urls" in ready else ready["url"]


# -- the operator under test ---------------------------------------------------------------------
@dataclass
class Operator:
    proc: Process
    health_port: int
    started: float  # wall clock at spawn

    async def healthy(self) -> bool:
        async with httpx.AsyncClient(timeout=1) as client:
            response = await client.get(f"http://127.0.0.1:{self.health_port}/healthz")
            return response.status_code == 200

    async def wait_healthy(self, within: float = 90) -> float:
        await wait_for_async(
            self.healthy, within=within, what="the operator's liveness endpoint", processes=[self.proc]
        )
        return time.time() - self.started

    @property
    def log(self) -> str:
        return self.proc.log.read_text(errors="replace")


def child_env(source: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    return env


@functools.cache
def operator_usage(source: Path | None) -> str:
    """``esml-operator run --help`` of the operator under test (which flags it has)."""
    argv = [*OPERATOR, "run", "--help"]
    return subprocess.run(argv, capture_output=True, text=True, check=False, env=child_env(source)).stdout


def operator_flags(source: Path | None) -> tuple[str, ...]:
    """``--no-leader-election`` for single-replica figures, if this operator accepts the flag."""
    return ("--no-leader-election",) if "--no-leader-election" in operator_usage(source) else ()


def spawn_operator(
    fleet: Fleet,
    directory: Path,
    kubeconfig: Path,
    namespaces: Sequence[str],
    *,
    resync_interval: float,
    extra: Sequence[str] = (),
    name: str = "operator",
    module: Sequence[str] = OPERATOR_MODULE,
) -> Operator:
    """``module``: how the interpreter runs the CLI (``bench.tracemem`` wraps it to profile memory)."""
    port = free_port()
    # Outside a cluster the Lease defaults to the install's namespace, which a bench cluster lacks.
    lease = ("--lease-namespace", "default")
    argv = operator_argv(
        kubeconfig,
        namespaces,
        resync_interval=resync_interval,
        health_port=port,
        metrics_port=free_port(),
        extra=(*lease, *extra),
        module=module,
    )
    started = time.time()
    return Operator(fleet.spawn(name, argv, directory), port, started)


def spawn_naive(
    fleet: Fleet, directory: Path, kubeconfig: Path, namespaces: Sequence[str], *, interval: float, clusters: Path
) -> Operator:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "kopf",
        "run",
        "--standalone",
        "--quiet",
        *[f"--namespace={ns}" for ns in namespaces],
        f"--liveness=http://127.0.0.1:{port}/healthz",
        str(Path(__file__).with_name("naive_operator.py")),
    ]
    env = {"KUBECONFIG": str(kubeconfig), "BENCH_NAIVE_INTERVAL": str(interval), "BENCH_NAIVE_CLUSTERS": str(clusters)}
    started = time.time()
    return Operator(fleet.spawn("naive-operator", argv, directory, env), port, started)


def spawn_watcher(fleet: Fleet, directory: Path, creds: Credentials) -> tuple[Process, Path]:
    out = directory / "watch.jsonl"
    argv = [
        sys.executable,
        "-m",
        "bench.watcher",
        "--server",
        creds.server,
        "--ca",
        str(creds.ca),
        "--cert",
        str(creds.cert),
        "--key",
        str(creds.key),
        "--out",
        str(out),
    ]
    return fleet.spawn("watcher", argv, directory), out


# -- /proc ------------------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK
