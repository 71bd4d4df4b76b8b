"""The simulator's and the operator's command lines, one way for the tests, the demo and the benchmark.

Both run with this interpreter (``python -m``), so a child finds the packages of the virtual environment that
started it, and the benchmark can put another checkout first on ``PYTHONPATH``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

SIMULATOR = (sys.executable, "-m", "esml_simulator")
OPERATOR_MODULE = ("-m", "esml_operator.cli")
OPERATOR = (sys.executable, *OPERATOR_MODULE)


def simulator_argv(
    ready_file: Path,
    *,
    nodes: int,
    allocation_delay: float,
    models: Sequence[str],
    tls: tuple[Path, Path] | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """``esml-simulator`` on a free port (``--port 0``), announcing its URL in ``ready_file``.

    ``tls``: the server certificate and key; without, it serves plain HTTP.
    """
    argv = [*SIMULATOR, "--port", "0", "--ready-file", str(ready_file)]
    argv += ["--nodes", str(nodes), "--allocation-delay", str(allocation_delay)]
    argv += [arg for model in models for arg in ("--model", model)]
    if tls is not None:
        argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    return [*argv, *extra]


def operator_argv(
    kubeconfig: Path,
    namespaces: Sequence[str],
    *,
    resync_interval: float,
    health_port: int,
    metrics_port: int,
    log_level: str = "INFO",
    extra: Sequence[str] = (),
    module: Sequence[str] = OPERATOR_MODULE,
) -> list[str]:
    """``esml-operator run`` outside a cluster: ``namespaces`` (none: all), endpoints on 127.0.0.1.

    ``module``: how the interpreter runs the CLI (``bench.tracemem`` wraps it to profile memory).
    """
    scope = [arg for ns in namespaces for arg in ("--namespace", ns)] or ["--all-namespaces"]
    return [
        sys.executable,
        *module,
        "run",
        *scope,
        "--kubeconfig",
        str(kubeconfig),
        "--resync-interval",
        str(resync_interval),
        "--liveness-endpoint",
        f"http://127.0.0.1:{health_port}/healthz",
        "--metrics-endpoint",
        f"http://127.0.0.1:{metrics_port}/metrics",
        "--log-level",
        log_level,
        *extra,
    ]
