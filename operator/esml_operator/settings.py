"""The operator's settings: one typed object, loaded once at start-up.

Every setting has a command-line flag and an environment variable
(``ESML_`` + the upper-case field name); a flag wins over the environment.
``esml-operator run --help`` lists them with their defaults, and
docs/reference/settings.md (generated from :meth:`Settings.describe`)
documents them. Every value is checked when the object is built (the checks
are in :mod:`esml_operator.settings_checks`); :meth:`Settings.load` turns a
failed check into a usage error (exit code 2) that names the flag, and the
environment variable when the value came from there.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from esml_operator import __version__
from esml_operator import settings_checks as checks

ENV_PREFIX = "ESML_"
VERSION = f"esml-operator {__version__}"

_ENVIRONMENT_RULES = (
    "Flags win over ESML_* environment variables. In the environment, booleans are true or false "
    "(1/0, yes/no, on/off), ESML_NAMESPACES is comma-separated with no empty items, and an empty "
    "variable is ignored (the default applies) except for text settings, where it sets the empty "
    "value (ESML_LIVENESS_ENDPOINT= disables the probe)."
)


class SettingError(ValueError):
    """An invalid setting; ``fields`` names the settings concerned (to name their environment variables)."""

    def __init__(self, message: str, *fields: str) -> None:
        super().__init__(message)
        self.fields = fields


def _setting(
    default: Any, help: str, *, flag: str | None = None, metavar: str | None = None, check: checks.Check | None = None
) -> Any:
    """A field with its help text, flag (default ``--`` + the name), metavar in --help, and check."""
    return field(default=default, metadata={"help": help, "flag": flag, "metavar": metavar, "check": check})


@dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...] = _setting(
        (),
        "Watch only these namespaces (repeatable flag; comma-separated in the environment, no empty items).",
        flag="--namespace",
        check=checks.namespaces,
    )
    all_namespaces: bool = _setting(False, "Watch ModelDeployments in every namespace.")
    resync_interval: float = _setting(
        30.0,
        "Seconds between polls of each Elasticsearch cluster; drift is corrected within this interval.",
        check=checks.positive,
    )
    min_poll_interval: float = _setting(
        1.0,
        "Never poll one Elasticsearch cluster more often than this (seconds), however many resources ask.",
        check=checks.non_negative,
    )
    status_heartbeat: float = _setting(
        0.0,
        "Seconds after which status.lastSyncTime is rewritten even when nothing else changed; 0 (the default): "
        "never, so a steady resource costs no API writes (a failing poll changes the conditions, and is written).",
        check=checks.non_negative,
    )
    connect_timeout: float = _setting(5.0, "Seconds to establish a connection to Elasticsearch.", check=checks.positive)
    request_timeout: float = _setting(30.0, "Seconds to wait for an Elasticsearch response.", check=checks.positive)
    idle_connections: int = _setting(
        5,
        "Idle connections kept open to each Elasticsearch cluster for its next requests (more are closed once "
        "idle); 0: a new connection for every request.",
        check=checks.non_negative,
    )
    idle_connection_expiry: float = _setting(
        5.0,
        "Seconds an idle connection to Elasticsearch stays open; keep it below the idle timeout of any load "
        "balancer or proxy in front of Elasticsearch. Above --resync-interval, each cluster keeps a connection "
        "between polls (no new TLS handshake per poll, a little memory per cluster).",
        check=checks.non_negative,
    )
    kube_request_timeout: float = _setting(
        10.0,
        "Seconds any one Kubernetes API request of the operator's own (status, events, Secrets, the Lease) may take; "
        "a request that outlives it is cancelled and its connection closed.",
        check=checks.positive,
    )
    max_concurrent_reconciles: int = _setting(
        16,
        "Resources reconciled at the same time against one Elasticsearch cluster (clusters never wait for each other).",
        check=checks.at_least_one,
    )
    catch_up_passes: int = _setting(
        32,
        "After a start, resources whose status says they are reconciled are checked this many at a time; a "
        "resource that changed meanwhile, and any change that arrives, is handled at once without a slot.",
        check=checks.at_least_one,
    )
    action_burst: int = _setting(
        4,
        "Elasticsearch changes (_start/_update) sent for one deployment at once before bursts are coalesced.",
        check=checks.at_least_one,
    )
    action_rate: float = _setting(
        2.0,
        "Sustained changes per second for one deployment once the burst is spent; later changes coalesce.",
        check=checks.positive,
        metavar="RATE",
    )
    leader_election: bool = _setting(
        True, "Elect one acting replica through a coordination.k8s.io Lease (--no-leader-election for local runs)."
    )
    lease_name: str = _setting(
        "esml-operator", "Name of the leader-election Lease.", check=checks.dns1123_subdomain, metavar="NAME"
    )
    lease_namespace: str = _setting(
        "",
        "Namespace of the Lease; empty: the pod's namespace (POD_NAMESPACE or the service account's), else, "
        "outside a cluster, the install's namespace esml-system (which must exist).",
        check=checks.dns1123_label(allow_empty=True),
        metavar="NAMESPACE",
    )
    lease_duration: float = _setting(
        15.0, "Seconds a Lease is valid without renewal; others take over after it.", check=checks.positive
    )
    renew_deadline: float = _setting(
        10.0,
        "Seconds the leader keeps acting without a successful renewal; it stops acting after that (fencing).",
        check=checks.positive,
    )
    retry_period: float = _setting(
        2.0, "Seconds between attempts to acquire or renew the Lease.", check=checks.positive
    )
    identity: str = _setting(
        "", "Leader-election identity; empty: POD_NAME, else the hostname plus a random suffix.", metavar="NAME"
    )
    allow_plain_http_credentials: bool = _setting(
        False, "Allow sending credentials to Elasticsearch over plain http:// (refused by default)."
    )
    allow_cross_namespace_refs: bool = _setting(
        False,
        "Allow elasticsearchRef.namespace to name another namespace (its elastic user's secret is read).",
    )
    eck_url_template: str = _setting(
        "https://{service}.{namespace}.svc:{port}",
        "URL of an ECK-managed cluster; {service}, {namespace} and {port} are filled from the Service, "
        "{name} from elasticsearchRef (for example https://localhost:{port} through a port-forward).",
        check=checks.eck_url_template,
        metavar="TEMPLATE",
    )
    # kopf serves the probe over plain HTTP only (it refuses https:// when it starts).
    liveness_endpoint: str = _setting(
        "http://0.0.0.0:8080/healthz",
        "Liveness probe endpoint served by kopf, http://host:port/path; empty to disable.",
        check=checks.endpoint_url(schemes=("http",)),
        metavar="URL",
    )
    metrics_endpoint: str = _setting(
        "http://0.0.0.0:8081/metrics",
        "Prometheus metrics endpoint, http://host:port/path (every replica serves it; a port of its own, not the "
        "liveness probe's); empty to disable.",
        check=checks.endpoint_url(schemes=("http",)),
        metavar="URL",
    )
    external_metrics: bool = _setting(
        False,
        "Serve the external.metrics.k8s.io/v1beta1 API (inference load per ModelDeployment, for a "
        "HorizontalPodAutoscaler) on --external-metrics-endpoint; needs the APIService (manifests/components/"
        "external-metrics) and --external-metrics-cert-file/--external-metrics-key-file.",
    )
    external_metrics_endpoint: str = _setting(
        "https://0.0.0.0:6443",
        "Where the external metrics API listens (TLS), https://host:port.",
        check=checks.endpoint_url(schemes=("https",), allow_empty=False),
        metavar="URL",
    )
    external_metrics_cert_file: str = _setting(
        "", "Serving certificate (PEM) of the external metrics API.", check=checks.existing_file, metavar="FILE"
    )
    external_metrics_key_file: str = _setting(
        "", "Private key (PEM) of --external-metrics-cert-file.", check=checks.existing_file, metavar="FILE"
    )
    requestheader_client_ca_file: str = _setting(
        "",
        "CA of the API server's front-proxy client certificate, the only client the external metrics API "
        "accepts; empty: read from the ConfigMap kube-system/extension-apiserver-authentication.",
        check=checks.existing_file,
        metavar="FILE",
    )
    requestheader_allowed_names: tuple[str, ...] = _setting(
        (),
        "Common names the front-proxy client certificate may have (repeatable flag; comma-separated in the "
        "environment); empty: as the ConfigMap says when the CA comes from there, else any name the CA signed.",
        check=checks.non_empty_items,
        metavar="NAME",
    )
    kubeconfig: str = _setting(
        "",
        "Kubeconfig file (must exist) for the operator's own API calls; empty: in-cluster or default.",
        check=checks.existing_file,
        metavar="FILE",
    )
    log_level: str = _setting(
        "INFO",
        "Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL (any case).",
        check=checks.log_level,
        metavar="LEVEL",
    )
    log_format: str = _setting("plain", "Log format: plain or json.", check=checks.log_format, metavar="FORMAT")
    event_loop: str = _setting(
        "auto",
        "Event loop: uvloop (faster; installed on Linux), asyncio (Python's own), or auto: uvloop where it is "
        "installed, else asyncio.",
        check=checks.event_loop,
        metavar="LOOP",
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check = f.metadata["check"]
            if check is None:
                continue
            try:
                check(_flag(f), getattr(self, f.name))
            except ValueError as error:
                raise SettingError(str(error), f.name) from None
        _check_together(self)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str, str]]:
        """(flag, environment variable, default, help) for every setting, for docs and --help."""
        return [(_flag(f), _variable(f), _shown(f.default), str(f.metadata["help"])) for f in dataclasses.fields(cls)]

    @classmethod
    def parser(cls) -> argparse.ArgumentParser:
        """``esml-operator run``'s parser: every setting as a flag, its help showing the default and variable.

        A flag left out parses as None, so that :meth:`load` can fall back to the environment.
        """
        parser = argparse.ArgumentParser(
            prog="esml-operator run",
            description="Run the esml-operator (kopf) against the current cluster.",
            epilog=_ENVIRONMENT_RULES,
        )
        parser.add_argument("--version", action="version", version=VERSION)
        for f in dataclasses.fields(cls):
            kind = _kind(f)
            shown = _shown(f.default) or "none"
            helptext = f"{f.metadata['help']} (default: {shown}; env {_variable(f)})".replace("%", "%%")
            flag, metavar = _flag(f), f.metadata["metavar"] or _METAVARS.get(kind)
            if kind is bool:
                action = argparse.BooleanOptionalAction if f.default else "store_true"
                parser.add_argument(flag, dest=f.name, action=action, default=None, help=helptext)
            elif kind is tuple:
                parser.add_argument(flag, dest=f.name, action="append", default=None, metavar=metavar, help=helptext)
            else:
                parser.add_argument(flag, dest=f.name, type=kind, default=None, metavar=metavar, help=helptext)
        return parser

    @classmethod
    def load(cls, argv: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> Settings:
        """Parse flags (``argv``) over environment variables (``environ``, default ``os.environ``).

        An invalid value exits with argparse's usage error (code 2) naming the flag,
        and the environment variable when the value came from the environment.
        """
        environ = os.environ if environ is None else environ
        parser = cls.parser()
        args = vars(parser.parse_args(list(argv)))
        values: dict[str, Any] = {}
        from_environment: set[str] = set()
        try:
            for f in dataclasses.fields(cls):
                if args[f.name] is not None:
                    values[f.name] = tuple(args[f.name]) if _kind(f) is tuple else args[f.name]
                    continue
                raw = environ.get(_variable(f))
                if raw is None or (not raw.strip() and _kind(f) is not str):
                    continue  # unset; an empty text setting is the empty value
                values[f.name] = _from_env(f, raw)
                from_environment.add(f.name)
            return cls(**values)
        except SettingError as error:
            variables = [ENV_PREFIX + name.upper() for name in error.fields if name in from_environment]
            suffix = f" (from the environment: {', '.join(variables)})" if variables else ""
            parser.error(f"{error}{suffix}")
        except ValueError as error:
            parser.error(str(error))


def _check_together(settings: Settings) -> None:
    """The rules that relate several settings."""
    if settings.all_namespaces and settings.namespaces:
        raise SettingError("choose either --all-namespaces or --namespace, not both", "all_namespaces", "namespaces")
    if not settings.all_namespaces and not settings.namespaces:
        raise SettingError("choose --all-namespaces or at least one --namespace", "all_namespaces", "namespaces")
    if settings.min_poll_interval > settings.resync_interval:
        raise SettingError(
            f"--min-poll-interval ({settings.min_poll_interval:g}) must not exceed "
            f"--resync-interval ({settings.resync_interval:g})",
            "min_poll_interval",
            "resync_interval",
        )
    _check_ports(settings)
    if settings.external_metrics and not (settings.external_metrics_cert_file and settings.external_metrics_key_file):
        raise SettingError(
            "--external-metrics needs --external-metrics-cert-file and --external-metrics-key-file (TLS)",
            "external_metrics",
            "external_metrics_cert_file",
            "external_metrics_key_file",
        )
    if not settings.retry_period < settings.renew_deadline < settings.lease_duration:
        raise SettingError(
            "leader election needs --retry-period < --renew-deadline < --lease-duration, got "
            f"{settings.retry_period:g}, {settings.renew_deadline:g} and {settings.lease_duration:g}",
            "retry_period",
            "renew_deadline",
            "lease_duration",
        )


def _check_ports(settings: Settings) -> None:
    """The endpoints the operator serves need ports of their own (the liveness probe must not share one)."""
    served = {"liveness_endpoint": settings.liveness_endpoint, "metrics_endpoint": settings.metrics_endpoint}
    if settings.external_metrics:
        served["external_metrics_endpoint"] = settings.external_metrics_endpoint
    seen: dict[int, str] = {}
    for name, url in served.items():
        if not url:
            continue
        port = checks.url_port(url)
        if port in seen:
            flags = f"--{seen[port].replace('_', '-')} and --{name.replace('_', '-')}"
            raise SettingError(f"{flags} must not use the same port ({port})", seen[port], name)
        seen[port] = name


_METAVARS: dict[type, str] = {float: "SECONDS", int: "N", str: "TEXT", tuple: "NAMESPACE"}


def _flag(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("flag") or "--" + f.name.replace("_", "-"))


def _variable(f: dataclasses.Field[Any]) -> str:
    return ENV_PREFIX + f.name.upper()


def _shown(default: Any) -> str:
    return ",".join(default) if isinstance(default, tuple) else str(default)


def _kind(f: dataclasses.Field[Any]) -> type:
    default = f.default
    return tuple if isinstance(default, tuple) else type(default)


_NUMBER_WORDS = {int: "a whole number", float: "a number"}


def _from_env(f: dataclasses.Field[Any], raw: str) -> Any:
    """The value of ``f``'s environment variable ``raw``; a ValueError names the variable and the flag."""
    kind = _kind(f)
    where = f"{_variable(f)} ({_flag(f)})"
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{where}: expected true or false, got {raw!r}")
    if kind is tuple:
        return tuple(part.strip() for part in raw.split(","))  # an empty item is refused by the check
    if kind is str:
        return raw
    try:
        return kind(raw.strip())
    except ValueError:
        raise ValueError(f"{where}: expected {_NUMBER_WORDS.get(kind, kind.__name__)}, got {raw!r}") from None
