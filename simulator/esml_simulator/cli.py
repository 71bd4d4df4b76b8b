"""The `esml-simulator` command (also `python -m esml_simulator`): its flags and the server it runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from esml_simulator.config import INFERENCE_UPDATE_STYLES, MERGE, SimulatorConfig
from esml_simulator.errors import EsError
from esml_simulator.security.privileges import ROLES, resolve_role
from esml_simulator.server import Simulator
from esml_simulator.state_file import default_state_file, write_json_atomic
from esml_simulator.units import parse_byte_size, parse_time
from esml_simulator.versions import DEFAULT_VERSION, EsVersion


def _byte_size(text: str) -> int:
    try:
        return parse_byte_size(text, "size").bytes
    except EsError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def _duration(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return parse_time(text, "duration").seconds
    except EsError as exc:
        raise argparse.ArgumentTypeError(exc.reason) from None


def _version(text: str) -> str:
    try:
        return str(EsVersion.parse(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _triple(kind: str) -> Callable[[str], tuple[str, str, str]]:
    def parse(text: str) -> tuple[str, str, str]:
        first, sep1, rest = text.partition(":")
        secret, sep2, role = rest.rpartition(":")
        if not (sep1 and sep2 and first and secret and role):
            raise argparse.ArgumentTypeError(f"expected {kind}:SECRET:ROLE, got {text!r}")
        try:
            resolve_role(role, first)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"{exc} (ROLE is one of {', '.join(ROLES)}, or a comma-separated cluster privilege list)"
            ) from None
        return first, secret, role

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="esml-simulator",
        description="An Elasticsearch ML trained-model deployment simulator (a real HTTP server).",
    )
    net = p.add_argument_group("network")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback 127.0.0.1)")
    net.add_argument("--port", type=int, default=9200, help="port; 0 picks a free one (default: 9200)")
    net.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (chain)")
    net.add_argument("--tls-key", help="PEM private key for --tls-cert")
    net.add_argument(
        "--clusters",
        type=int,
        default=1,
        metavar="N",
        help="serve N independent clusters from this process on ports PORT..PORT+N-1 (each a free port with --port 0), "
        "each with its own state, nodes, credentials and cluster_uuid, named CLUSTER_NAME-0.. (default: 1)",
    )
    net.add_argument(
        "--ready-file",
        help='write {"url": ..., "urls": [...], "pid": ...} here (atomically) once listening ("urls": one per cluster)',
    )
    es = p.add_argument_group("emulated cluster")
    es.add_argument(
        "--es-version",
        type=_version,
        default=DEFAULT_VERSION,
        help=f"Elasticsearch version to emulate, 8.0.0 to 9.x (default: {DEFAULT_VERSION})",
    )
    es.add_argument("--nodes", type=int, default=2, help="number of ML nodes (default: 2)")
    es.add_argument("--processors", type=int, default=4, help="allocated processors per ML node (default: 4)")
    es.add_argument(
        "--node-memory",
        type=_byte_size,
        default=8 * 1024**3,
        help="memory available for ML per node, e.g. 8gb (default: 8gb)",
    )
    es.add_argument(
        "--can-scale",
        action="store_true",
        help="behave like a cluster that may add ML nodes: start/update beyond capacity wait "
        "for capacity instead of failing with 429",
    )
    es.add_argument(
        "--max-lazy-ml-nodes",
        type=int,
        default=0,
        help="xpack.ml.max_lazy_ml_nodes: the cluster may scale while it has fewer ML nodes (default: 0)",
    )
    es.add_argument(
        "--max-ml-node-size",
        type=_byte_size,
        default=0,
        help="xpack.ml.max_ml_node_size, e.g. 16gb: ML nodes smaller than this may grow (default: 0, unset)",
    )
    es.add_argument(
        "--model", action="append", default=[], metavar="ID", help="preload a fully defined pytorch model (repeatable)"
    )
    es.add_argument(
        "--model-size",
        type=_byte_size,
        default=265_632_637,
        help="definition size of preloaded models (default: 265632637b)",
    )
    es.add_argument("--cluster-name", default="esml-simulator")
    es.add_argument("--license", default="platinum", choices=["basic", "trial", "platinum", "enterprise"])
    es.add_argument(
        "--inference-update-style",
        default=MERGE,
        choices=INFERENCE_UPDATE_STYLES,
        help="inference _update rules from 8.18: 'merge' (9.2 code: num_allocations and/or a merged "
        "adaptive_allocations) or 'newest' (exactly one of them; default endpoints refused) (default: merge)",
    )
    timing = p.add_argument_group("timing")
    timing.add_argument(
        "--allocation-delay",
        type=_duration,
        default=1.0,
        help="seconds a node takes to load a model or change allocations (default: 1.0)",
    )
    timing.add_argument(
        "--adaptive-interval",
        type=_duration,
        default=10.0,
        help="adaptive-allocations scaler period in seconds (default: 10)",
    )
    timing.add_argument(
        "--scale-to-zero-time",
        type=_duration,
        default=86400.0,
        help="idle time before adaptive deployments with min 0 scale to zero (default: 24h)",
    )
    timing.add_argument(
        "--stop-delay",
        type=_duration,
        default=0.0,
        help="seconds a stop takes; the deployment shows 'stopping' meanwhile (default: 0)",
    )
    timing.add_argument(
        "--fake-clock", action="store_true", help="simulated time moves only through POST /_sim/_advance"
    )
    sec = p.add_argument_group("security")
    sec.add_argument("--no-security", action="store_true", help="accept unauthenticated requests")
    sec.add_argument("--elastic-password", default="changeme", help="password of the elastic superuser")
    sec.add_argument(
        "--user",
        action="append",
        default=[],
        type=_triple("NAME"),
        metavar="NAME:PASSWORD:ROLE",
        help="add a basic-auth user; ROLE is superuser, manage_ml, monitor_ml, inference_admin, inference_user "
        "or a comma-separated cluster privilege list such as manage_ml,monitor (repeatable)",
    )
    sec.add_argument(
        "--api-key",
        action="append",
        default=[],
        type=_triple("ID"),
        metavar="ID:KEY:ROLE",
        help="add an API key (send 'Authorization: ApiKey base64(ID:KEY)'); ROLE as for --user (repeatable)",
    )
    state = p.add_argument_group("state").add_mutually_exclusive_group()
    state.add_argument(
        "--state-file",
        help="keep the state (API keys, users, models, deployments, endpoints) in this file: loaded at start, "
        "written after every change (default: $XDG_STATE_HOME/esml-simulator/PORT/state.json, "
        "XDG_STATE_HOME defaulting to ~/.local/state; none with --port 0)",
    )
    state.add_argument(
        "--ephemeral",
        "--no-state",
        action="store_true",
        help="keep no state: every start is a fresh cluster",
    )
    return p


def state_file_of(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None, port: int | None = None
) -> str | None:
    """``--state-file``, else none with ``--ephemeral``, else the per-port default (none for ``--port 0``).

    ``port``: the cluster's own port when the process serves several (``--port`` otherwise).
    """
    if args.state_file:
        return str(args.state_file)
    if args.ephemeral:
        return None
    default = default_state_file(args.port if port is None else port, environ)
    return None if default is None else str(default)


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> SimulatorConfig:
    return SimulatorConfig(
        host=args.host,
        port=args.port,
        es_version=args.es_version,
        nodes=args.nodes,
        processors=args.processors,
        node_memory=args.node_memory,
        security=not args.no_security,
        elastic_password=args.elastic_password,
        users=list(args.user),
        api_keys=list(args.api_key),
        can_scale=args.can_scale,
        max_lazy_ml_nodes=args.max_lazy_ml_nodes,
        max_ml_node_size=args.max_ml_node_size,
        allocation_delay=args.allocation_delay,
        adaptive_interval=args.adaptive_interval,
        scale_to_zero_time=args.scale_to_zero_time,
        stop_delay=args.stop_delay,
        models=list(args.model),
        model_size=args.model_size,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        state_file=state_file_of(args, environ),
        fake_clock=args.fake_clock,
        cluster_name=args.cluster_name,
        license=args.license,
        inference_update_style=args.inference_update_style,
    )


def configs_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> list[SimulatorConfig]:
    """One config per cluster. ``--clusters N`` (N > 1): ports PORT+i (0: each a free port), names CLUSTER_NAME-i,
    the per-port state files; every cluster gets its own copies of the users, API keys and models to start with."""
    config = config_from_args(args, environ)
    if args.clusters == 1:
        return [config]
    return [
        replace(
            config,
            port=args.port + i if args.port else 0,
            cluster_name=f"{args.cluster_name}-{i}",
            state_file=state_file_of(args, environ, args.port + i if args.port else 0),
            users=list(config.users),
            api_keys=list(config.api_keys),
            models=list(config.models),
        )
        for i in range(args.clusters)
    ]


async def serve(configs: Sequence[SimulatorConfig], ready_file: str | None) -> None:
    """Serve each cluster until SIGTERM or SIGINT; if one cannot start, none is left running."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[Simulator] = []
    try:
        for config in configs:
            simulator = Simulator(config)
            await simulator.start()
            started.append(simulator)
        for simulator in started:
            print(f"esml-simulator listening on {simulator.url}", flush=True)
        for simulator in started:
            state = simulator.config.state_file
            where = f"in {state}" if state else "none (every start is a fresh cluster)"
            of = f" of {simulator.url}" if len(started) > 1 else ""
            print(f"esml-simulator: state{of} {where}", file=sys.stderr, flush=True)
        if ready_file:
            urls = [simulator.url for simulator in started]
            write_json_atomic(ready_file, {"url": urls[0], "urls": urls, "pid": os.getpid()})
        await stop.wait()
    finally:
        for simulator in started:
            await simulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.nodes < 0 or args.processors < 1:
        parser.error("--nodes must be >= 0 and --processors >= 1")
    if args.clusters < 1:
        parser.error("--clusters must be >= 1")
    if args.clusters > 1 and args.state_file:
        parser.error("--state-file names one cluster's file: with --clusters use the per-port files or --ephemeral")
    if args.clusters > 1 and args.port and args.port + args.clusters - 1 > 65535:
        parser.error("--port + --clusters - 1 must be a port number (<= 65535)")
    try:
        asyncio.run(serve(configs_from_args(args), args.ready_file))
    except OSError as exc:
        print(f"esml-simulator: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"esml-simulator: {exc}", file=sys.stderr)
        return 2
    return 0


__all__ = ["build_parser", "config_from_args", "configs_from_args", "json", "main"]
