"""The operator's settings: one typed object, loaded once at start-up.

Every setting has a command-line flag and an environment variable
(``ESML_`` + the upper-case field name); a flag wins over the environment.
``esml-operator run --help`` lists them, and the README documents them.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ENV_PREFIX = "ESML_"


def _setting(default: Any, help: str, *, flag: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "flag": flag})


@dataclass(frozen=True)
class Settings:
    namespaces: tuple[str, ...] = _setting(
        (), "Watch only these namespaces (repeatable flag; comma-separated in the environment).",
        flag="--namespace",
    )  # fmt: skip
    all_namespaces: bool = _setting(False, "Watch ModelDeployments in every namespace.")
    resync_interval: float = _setting(
        30.0, "Seconds between polls of each Elasticsearch cluster; drift is corrected within this interval."
    )
    min_poll_interval: float = _setting(
        1.0,
        "Never poll one Elasticsearch cluster more often than this (seconds), however many resources ask.",
    )
    status_heartbeat: float = _setting(
        300.0, "Seconds after which status.lastSyncTime is rewritten even when nothing else changed."
    )
    connect_timeout: float = _setting(5.0, "Seconds to establish a connection to Elasticsearch.")
    request_timeout: float = _setting(30.0, "Seconds to wait for an Elasticsearch response.")
    max_concurrent_reconciles: int = _setting(
        16,
        "Resources reconciled at the same time against one Elasticsearch cluster (clusters never wait for each other).",
    )
    action_burst: int = _setting(
        4, "Elasticsearch changes (_start/_update) sent for one deployment at once before bursts are coalesced."
    )
    action_rate: float = _setting(
        3.0, "Sustained changes per second for one deployment once the burst is spent; later changes coalesce."
    )
    leader_election: bool = _setting(
        True, "Elect one acting replica through a coordination.k8s.io Lease (--no-leader-election for local runs)."
    )
    lease_name: str = _setting("esml-operator", "Name of the leader-election Lease.")
    lease_namespace: str = _setting(
        "", "Namespace of the Lease; empty: the pod's namespace (POD_NAMESPACE or the service account's), else default."
    )
    lease_duration: float = _setting(15.0, "Seconds a Lease is valid without renewal; others take over after it.")
    renew_deadline: float = _setting(
        10.0, "Seconds the leader keeps acting without a successful renewal; it stops acting after that (fencing)."
    )
    retry_period: float = _setting(2.0, "Seconds between attempts to acquire or renew the Lease.")
    identity: str = _setting("", "Leader-election identity; empty: POD_NAME, else the hostname plus a random suffix.")
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
    )
    liveness_endpoint: str = _setting(
        "http://0.0.0.0:8080/healthz", "Liveness probe endpoint served by kopf; empty to disable."
    )
    kubeconfig: str = _setting("", "Kubeconfig for the operator's own API calls; empty: in-cluster or default.")
    log_level: str = _setting("INFO", "Log level: DEBUG, INFO, WARNING, ERROR.")
    log_format: str = _setting("plain", "Log format: plain or json.")

    def __post_init__(self) -> None:
        if self.all_namespaces and self.namespaces:
            raise ValueError("choose either --all-namespaces or --namespace, not both")
        if not self.all_namespaces and not self.namespaces:
            raise ValueError("choose --all-namespaces or at least one --namespace")
        if self.resync_interval <= 0 or self.min_poll_interval < 0:
            raise ValueError("resync_interval must be > 0 and min_poll_interval >= 0")
        if self.min_poll_interval > self.resync_interval:
            raise ValueError("min_poll_interval must not exceed resync_interval")
        if self.max_concurrent_reconciles < 1:
            raise ValueError("max_concurrent_reconciles must be at least 1")
        if not 0 < self.retry_period < self.renew_deadline < self.lease_duration:
            raise ValueError("leader election needs 0 < retry_period < renew_deadline < lease_duration")
        if self.action_burst < 1 or self.action_rate <= 0:
            raise ValueError("action_burst must be at least 1 and action_rate > 0")
        if self.log_format not in {"plain", "json"}:
            raise ValueError("log_format must be plain or json")
        _check_eck_url_template(self.eck_url_template)

    @classmethod
    def describe(cls) -> list[tuple[str, str, str, str]]:
        """(flag, environment variable, default, help) for every setting, for docs and --help."""
        rows = []
        for f in dataclasses.fields(cls):
            default = f.default
            shown = ",".join(default) if isinstance(default, tuple) else str(default)
            rows.append((_flag(f), ENV_PREFIX + f.name.upper(), shown, str(f.metadata["help"])))
        return rows

    @classmethod
    def load(cls, argv: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> Settings:
        """Parse flags (``argv``) over environment variables (``environ``, default ``os.environ``)."""
        environ = os.environ if environ is None else environ
        parser = argparse.ArgumentParser(
            prog="esml-operator run", description="Run the esml-operator (kopf) against the current cluster."
        )
        for f in dataclasses.fields(cls):
            kind = _kind(f)
            helptext = f"{f.metadata['help']} [env {ENV_PREFIX}{f.name.upper()}]"
            if kind is bool:
                action = argparse.BooleanOptionalAction if f.default else "store_true"
                parser.add_argument(_flag(f), dest=f.name, action=action, default=None, help=helptext)
            elif kind is tuple:
                parser.add_argument(_flag(f), dest=f.name, action="append", default=None, help=helptext)
            else:
                parser.add_argument(_flag(f), dest=f.name, type=kind, default=None, help=helptext)
        args = vars(parser.parse_args(list(argv)))
        values: dict[str, Any] = {}
        try:
            for f in dataclasses.fields(cls):
                if args[f.name] is not None:
                    values[f.name] = tuple(args[f.name]) if _kind(f) is tuple else args[f.name]
                    continue
                raw = environ.get(ENV_PREFIX + f.name.upper())
                if raw is not None and raw != "":
                    values[f.name] = _from_env(_kind(f), raw, ENV_PREFIX + f.name.upper())
            return cls(**values)
        except ValueError as error:
            parser.error(str(error))
            raise  # unreachable: parser.error exits


def _check_eck_url_template(template: str) -> None:
    """An http(s) URL template using only the known placeholders, and at least {service} or {port}.

    ``https://localhost:{port}`` (a port-forward, or a test) is as valid as the
    in-cluster default: a template must only depend on the referenced Service.
    """
    try:
        sample = template.format(service="svc", namespace="ns", port=9200, name="es")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"eck_url_template {template!r} is not a valid template ({error!r}); "
            "known placeholders: {service}, {namespace}, {port}, {name}"
        ) from None
    if "{service}" not in template and "{port}" not in template:
        raise ValueError("eck_url_template must contain {service} or {port}")
    if not sample.startswith(("https://", "http://")):
        raise ValueError(f"eck_url_template {template!r} must start with https:// or http://")


def _flag(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("flag") or "--" + f.name.replace("_", "-"))


def _kind(f: dataclasses.Field[Any]) -> type:
    default = f.default
    return tuple if isinstance(default, tuple) else type(default)


def _from_env(kind: type, raw: str, name: str) -> Any:
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ValueError(f"{name}: expected true or false, got {raw!r}")
    if kind is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    try:
        return kind(raw)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
