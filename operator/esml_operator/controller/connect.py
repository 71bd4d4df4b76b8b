"""Resolve a resource's ``spec.elasticsearch`` into a connection: URL, credentials, CA.

Reads the referenced Secrets (and, for an ECK reference, the Service) and
returns either a :class:`ConnectionConfig` or a :class:`ConfigProblem` that
explains, without any secret value, why no connection can be attempted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from esml_operator.elasticsearch.connections import ApiKeyAuth, Auth, BasicAuth, ConnectionConfig, Timeouts
from esml_operator.kube.api import KubeApi, SecretData
from esml_operator.reconcile import ConfigProblem, ModelDeploymentSpec
from esml_operator.reconcile.spec import INVALID_CLOUD_ID, CloudIdError, cloud_id_url
from esml_operator.settings import Settings

ECK_CLUSTER_LABEL = "elasticsearch.k8s.elastic.co/cluster-name"
ECK_ML_LABEL = "elasticsearch.k8s.elastic.co/node-ml"
URL_SELECTOR_LABEL = "esml.io/model-deployment"


@dataclass(frozen=True)
class Resolved:
    config: ConnectionConfig
    #: Secrets this connection was built from: (namespace, name, resourceVersion).
    secrets: tuple[tuple[str, str, str], ...]

    @property
    def secrets_fingerprint(self) -> str:
        return hashlib.sha256(repr(self.secrets).encode()).hexdigest()[:16]


def selector_for(spec: ModelDeploymentSpec | None, name: str) -> str:
    """``status.selector`` for /scale: the ECK cluster's ML pods, or a label users may put on pods."""
    if spec is not None and spec.connection.elasticsearch_ref is not None:
        return f"{ECK_CLUSTER_LABEL}={spec.connection.elasticsearch_ref.name},{ECK_ML_LABEL}=true"
    return f"{URL_SELECTOR_LABEL}={name}"


def _text(secret: SecretData, key: str) -> str | None:
    raw = secret.data.get(key)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None


async def resolve(
    spec: ModelDeploymentSpec, namespace: str, kube: KubeApi, settings: Settings, *, fresh: bool = False
) -> Resolved | ConfigProblem:
    conn = spec.connection
    used: list[tuple[str, str, str]] = []

    async def secret(ns: str, name: str) -> SecretData | None:
        value = await kube.read_secret(ns, name, fresh=fresh)
        if value is not None:
            used.append((ns, name, value.resource_version))
        return value

    if conn.elasticsearch_ref is not None:
        ref = conn.elasticsearch_ref
        ref_ns = ref.namespace or namespace
        if ref_ns != namespace and not settings.allow_cross_namespace_refs:
            return ConfigProblem(
                "CrossNamespaceReferenceForbidden",
                f"elasticsearchRef names namespace {ref_ns!r}; the operator only allows references within "
                f"{namespace!r} (start it with --allow-cross-namespace-refs to permit this)",
            )
        service = ref.service_name or f"{ref.name}-es-http"
        port = await kube.read_service_port(ref_ns, service)
        if port is None:
            return ConfigProblem(
                "ServiceNotFound", f"Service {ref_ns}/{service} of Elasticsearch {ref.name!r} not found"
            )
        user_secret_name = f"{ref.name}-es-elastic-user"
        user_secret = await secret(ref_ns, user_secret_name)
        if user_secret is None:
            return ConfigProblem("SecretNotFound", f"Secret {ref_ns}/{user_secret_name} (ECK elastic user) not found")
        password = _text(user_secret, "elastic")
        if not password:
            return ConfigProblem("SecretKeyMissing", f"Secret {ref_ns}/{user_secret_name} has no key 'elastic'")
        ca_secret_name = f"{ref.name}-es-http-certs-public"
        ca_secret = await secret(ref_ns, ca_secret_name)
        if ca_secret is None:
            return ConfigProblem("SecretNotFound", f"Secret {ref_ns}/{ca_secret_name} (ECK HTTP CA) not found")
        ca = ca_secret.data.get("ca.crt")
        if not ca:
            return ConfigProblem("SecretKeyMissing", f"Secret {ref_ns}/{ca_secret_name} has no key 'ca.crt'")
        url = settings.eck_url_template.format(service=service, namespace=ref_ns, port=port, name=ref.name)
        config = _config(settings, url, BasicAuth("elastic", password), ca, insecure=conn.insecure_skip_tls_verify)
        return Resolved(config, tuple(used))

    base_url = conn.url
    if conn.cloud_id is not None:
        try:
            base_url = cloud_id_url(conn.cloud_id)
        except CloudIdError as error:
            return ConfigProblem(INVALID_CLOUD_ID, f"elasticsearch.cloudId is not a valid Elastic Cloud id: {error}")
    assert base_url is not None  # parse_spec guarantees exactly one form
    auth: Auth | None = None
    if conn.credentials_secret_ref is not None:
        name = conn.credentials_secret_ref.name
        creds = await secret(namespace, name)
        if creds is None:
            return ConfigProblem("SecretNotFound", f"credentials Secret {namespace}/{name} not found")
        api_key = _text(creds, "api_key")
        username, password = _text(creds, "username"), _text(creds, "password")
        if api_key:
            auth = ApiKeyAuth(api_key)
        elif username and password:
            auth = BasicAuth(username, password)
        else:
            return ConfigProblem(
                "SecretKeyMissing",
                f"credentials Secret {namespace}/{name} needs key 'api_key', or keys 'username' and 'password'",
            )
    ca_pem: bytes | None = None
    if conn.ca_secret_ref is not None:
        name, key = conn.ca_secret_ref.name, conn.ca_secret_ref.key or "ca.crt"
        ca_secret = await secret(namespace, name)
        if ca_secret is None:
            return ConfigProblem("SecretNotFound", f"CA Secret {namespace}/{name} not found")
        ca_pem = ca_secret.data.get(key)
        if not ca_pem:
            return ConfigProblem("SecretKeyMissing", f"CA Secret {namespace}/{name} has no key {key!r}")
    config = _config(settings, base_url, auth, ca_pem, insecure=conn.insecure_skip_tls_verify)
    return Resolved(config, tuple(used))


def _config(
    settings: Settings, url: str, auth: Auth | None, ca_pem: bytes | None, *, insecure: bool
) -> ConnectionConfig:
    """A connection to ``url``; timeouts, plain-HTTP credentials and idle connections come from the settings."""
    return ConnectionConfig(
        url=url,
        auth=auth,
        ca_pem=ca_pem,
        insecure_skip_tls_verify=insecure,
        allow_plain_http_credentials=settings.allow_plain_http_credentials,
        timeouts=Timeouts(connect=settings.connect_timeout, read=settings.request_timeout),
        max_keepalive_connections=settings.idle_connections,
        keepalive_expiry=settings.idle_connection_expiry,
    )
