"""The typed ``ModelDeployment`` spec and its defensive parser.

The CRD schema and its CEL rules validate most of this already; the parser
re-checks everything it relies on (a resource may have been written before a
schema change, or by an API server that did not validate) and resolves the
defaults that CEL cannot express (``deploymentId`` defaults to ``modelId``).

Start-time fields (``threadsPerAllocation``, ``queueCapacity``, ``priority``,
``cacheSize``) stay ``None`` when absent: Elasticsearch chooses the default,
and ``None`` is never reported as differing from the running deployment.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Elasticsearch's id rule, plus the leading "." of Elastic-provided models (``.elser_model_2``).
MODEL_ID_PATTERN = re.compile(r"^\.?[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?$")
MODEL_ID_MAX_LENGTH = 64
THREADS_PER_ALLOCATION_VALUES = (1, 2, 4, 8, 16, 32)
QUEUE_CAPACITY_MAX = 100_000
BYTE_SIZE_PATTERN = re.compile(r"^(?:0|[0-9]+(?:\.[0-9]+)?\s*(?:b|kb?|mb?|gb?|tb?|pb?))$", re.IGNORECASE)
PRIORITIES = ("normal", "low")
START_POLICIES = ("IfMissing", "Never")
DELETION_POLICIES = ("Retain", "Stop")
RESTART_POLICIES = ("Never", "OnParameterChange")
DEFAULT_CA_KEY = "ca.crt"
INVALID_SPEC = "InvalidSpec"
INVALID_CLOUD_ID = "InvalidCloudId"
CLOUD_DEFAULT_PORT = 443
_CLOUD_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_CLOUD_ID_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")


class SpecError(ValueError):
    """The spec cannot be acted on. ``reason`` is a CamelCase condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class AdaptiveSpec:
    enabled: bool
    min_number_of_allocations: int | None
    max_number_of_allocations: int | None


@dataclass(frozen=True)
class ElasticsearchRefSpec:
    name: str
    namespace: str | None
    service_name: str | None


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str | None = None


@dataclass(frozen=True)
class ConnectionSpec:
    elasticsearch_ref: ElasticsearchRefSpec | None
    url: str | None
    credentials_secret_ref: SecretRef | None
    ca_secret_ref: SecretRef | None  # key resolved: defaults to "ca.crt"
    insecure_skip_tls_verify: bool
    cloud_id: str | None = None  # undecoded: see cloud_id_url (a malformed id is a config problem)


class CloudIdError(ValueError):
    """A ``cloudId`` that does not decode; the message says why (the id is not a secret)."""


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise CloudIdError(f"port {text!r} is not a number from 1 to 65535")
    return int(text)


def cloud_id_url(cloud_id: str) -> str:
    """The Elasticsearch URL of an Elastic Cloud id, decoded as Elastic's clients do.

    A cloud id is ``[<deployment name>:]<base64>``; the base64 text decodes to
    ``<host>[:<port>]$<elasticsearch id>[:<port>]$<kibana id>...`` and the
    Elasticsearch URL is ``https://<elasticsearch id>.<host>:<port>`` (443 by
    default; a port on the Elasticsearch id wins over the host's, as in Beats).
    The name is optional (as in the Java client and Beats) and may itself
    contain ``:`` (base64 never does). Raises :class:`CloudIdError`.
    """
    encoded = cloud_id.strip().rpartition(":")[2]
    if not encoded:
        raise CloudIdError("nothing follows the deployment name")
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise CloudIdError("the part after the deployment name is not base64 text") from None
    parts = decoded.split("$")
    if len(parts) < 2 or not parts[1]:
        raise CloudIdError("it decodes to no Elasticsearch id (expected <host>$<elasticsearch id>$<kibana id>)")
    host, has_port, host_port = parts[0].partition(":")
    port = _port(host_port) if has_port else CLOUD_DEFAULT_PORT
    es_id, has_es_port, es_port = parts[1].partition(":")
    if has_es_port:
        port = _port(es_port)
    if not _CLOUD_HOST.match(host):
        raise CloudIdError(f"it decodes to the host {host!r}, which is not a DNS name")
    if not _CLOUD_ID_PART.match(es_id):
        raise CloudIdError(f"it decodes to the Elasticsearch id {es_id!r}, which is not a DNS label")
    return f"https://{es_id}.{host}:{port}"


@dataclass(frozen=True)
class ModelDeploymentSpec:
    model_id: str
    deployment_id: str  # resolved: defaults to model_id
    number_of_allocations: int
    adaptive: AdaptiveSpec | None
    threads_per_allocation: int | None
    queue_capacity: int | None
    priority: str | None
    cache_size: str | None
    connection: ConnectionSpec
    start_policy: str  # "IfMissing" | "Never"
    deletion_policy: str  # "Retain" | "Stop"
    paused: bool
    restart_policy: str = "Never"  # "Never" | "OnParameterChange"

    @property
    def adaptive_enabled(self) -> bool:
        return self.adaptive is not None and self.adaptive.enabled


def _fail(message: str) -> SpecError:
    return SpecError(INVALID_SPEC, message)


def _mapping(raw: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> Mapping[str, Any] | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise _fail(f"{path}{key} is required")
        return None
    if not isinstance(value, Mapping):
        raise _fail(f"{path}{key} must be an object")
    return value


def _string(raw: Mapping[str, Any], key: str, path: str = "", *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise _fail(f"{path}{key} is required")
        return None
    if not isinstance(value, str):
        raise _fail(f"{path}{key} must be a string, got {value!r}")
    return value


def _integer(raw: Mapping[str, Any], key: str, path: str = "", *, minimum: int | None = None) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"{path}{key} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise _fail(f"{path}{key} must be >= {minimum}, got {value}")
    return value


def _boolean(raw: Mapping[str, Any], key: str, path: str = "", *, default: bool = False) -> bool:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(f"{path}{key} must be true or false, got {value!r}")
    return value


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = _string(raw, key)
    if value is None:
        return default
    if value not in choices:
        raise _fail(f"{key} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _model_id(raw: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = _string(raw, key, required=required)
    if value is None:
        return None
    if len(value) > MODEL_ID_MAX_LENGTH or not MODEL_ID_PATTERN.match(value):
        raise _fail(
            f"{key} {value!r} is not a valid Elasticsearch id: 1 to {MODEL_ID_MAX_LENGTH} lowercase "
            "letters, digits, '-', '_' or '.', starting (after an optional '.') and ending with a "
            "letter or digit"
        )
    return value


def _adaptive(raw: Mapping[str, Any]) -> AdaptiveSpec | None:
    adaptive = _mapping(raw, "adaptiveAllocations", "")
    if adaptive is None:
        return None
    path = "adaptiveAllocations."
    minimum = _integer(adaptive, "minNumberOfAllocations", path, minimum=0)
    maximum = _integer(adaptive, "maxNumberOfAllocations", path, minimum=1)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise _fail(
            f"adaptiveAllocations.minNumberOfAllocations ({minimum}) must not be larger than "
            f"adaptiveAllocations.maxNumberOfAllocations ({maximum})"
        )
    return AdaptiveSpec(_boolean(adaptive, "enabled", path), minimum, maximum)


def _secret_ref(raw: Mapping[str, Any], key: str, default_key: str | None) -> SecretRef | None:
    ref = _mapping(raw, key, "elasticsearch.")
    if ref is None:
        return None
    path = f"elasticsearch.{key}."
    name = _string(ref, "name", path, required=True)
    assert name is not None
    return SecretRef(name=name, key=_string(ref, "key", path) or default_key)


def _connection(raw: Mapping[str, Any]) -> ConnectionSpec:
    es = _mapping(raw, "elasticsearch", "", required=True)
    assert es is not None
    ref_raw = _mapping(es, "elasticsearchRef", "elasticsearch.")
    url = _string(es, "url", "elasticsearch.")
    cloud_id = _string(es, "cloudId", "elasticsearch.")
    if [ref_raw is not None, url is not None, cloud_id is not None].count(True) != 1:
        raise _fail("elasticsearch must set exactly one of elasticsearchRef, url or cloudId")
    credentials = _secret_ref(es, "credentialsSecretRef", None)
    ca = _secret_ref(es, "caSecretRef", DEFAULT_CA_KEY)
    ref: ElasticsearchRefSpec | None = None
    if ref_raw is not None:
        if credentials is not None or ca is not None:
            raise _fail(
                "elasticsearch.credentialsSecretRef and elasticsearch.caSecretRef are only allowed with "
                "elasticsearch.url or elasticsearch.cloudId (an elasticsearchRef uses the ECK-managed secrets)"
            )
        path = "elasticsearch.elasticsearchRef."
        name = _string(ref_raw, "name", path, required=True)
        assert name is not None
        ref = ElasticsearchRefSpec(name, _string(ref_raw, "namespace", path), _string(ref_raw, "serviceName", path))
    elif url is not None and not url.lower().startswith(("http://", "https://")):
        raise _fail(f"elasticsearch.url must start with http:// or https://, got {url!r}")
    return ConnectionSpec(
        elasticsearch_ref=ref,
        url=url,
        credentials_secret_ref=credentials,
        ca_secret_ref=ca,
        insecure_skip_tls_verify=_boolean(es, "insecureSkipTLSVerify", "elasticsearch."),
        cloud_id=cloud_id,
    )


def parse_or_error(spec: Mapping[str, Any]) -> ModelDeploymentSpec | SpecError:
    """The parsed spec, or why it cannot be acted on, as a value: a resource's spec is parsed once per
    generation and handed to everything that needs it (``decide``, ``decide_deletion``, the metrics)."""
    try:
        return parse_spec(spec)
    except SpecError as error:
        return error


def parse_spec(spec: Mapping[str, Any]) -> ModelDeploymentSpec:
    """Parse and validate a raw (camelCase) ``ModelDeployment`` spec; raises :class:`SpecError`."""
    if not isinstance(spec, Mapping):
        raise _fail("spec must be an object")
    model_id = _model_id(spec, "modelId", required=True)
    assert model_id is not None
    deployment_id = _model_id(spec, "deploymentId", required=False) or model_id
    number_of_allocations = _integer(spec, "numberOfAllocations", minimum=0)
    threads = _integer(spec, "threadsPerAllocation")
    if threads is not None and threads not in THREADS_PER_ALLOCATION_VALUES:
        raise _fail(f"threadsPerAllocation must be one of 1, 2, 4, 8, 16, 32, got {threads}")
    queue_capacity = _integer(spec, "queueCapacity", minimum=1)
    if queue_capacity is not None and queue_capacity > QUEUE_CAPACITY_MAX:
        raise _fail(f"queueCapacity must be at most {QUEUE_CAPACITY_MAX}, got {queue_capacity}")
    priority = _choice(spec, "priority", PRIORITIES, None)
    cache_size = _string(spec, "cacheSize")
    if cache_size is not None and not BYTE_SIZE_PATTERN.match(cache_size.strip()):
        raise _fail(f"cacheSize must be a byte size such as 0, 10kb or 20mb, got {cache_size!r}")
    adaptive = _adaptive(spec)
    allocations = 1 if number_of_allocations is None else number_of_allocations
    if priority == "low" and (allocations > 1 or (threads is not None and threads != 1)):
        raise _fail("priority low requires numberOfAllocations 0 or 1 and threadsPerAllocation 1")
    start_policy = _choice(spec, "startPolicy", START_POLICIES, "IfMissing")
    deletion_policy = _choice(spec, "deletionPolicy", DELETION_POLICIES, "Retain")
    restart_policy = _choice(spec, "restartPolicy", RESTART_POLICIES, "Never")
    assert start_policy is not None and deletion_policy is not None
    return ModelDeploymentSpec(
        model_id=model_id,
        deployment_id=deployment_id,
        number_of_allocations=allocations,
        adaptive=adaptive,
        threads_per_allocation=threads,
        queue_capacity=queue_capacity,
        priority=priority,
        cache_size=cache_size.strip() if cache_size is not None else None,
        connection=_connection(spec),
        start_policy=start_policy,
        deletion_policy=deletion_policy,
        restart_policy=restart_policy or "Never",
        paused=_boolean(spec, "paused"),
    )
