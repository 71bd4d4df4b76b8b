"""Connection settings and the pool of per-cluster clients.

A :class:`ConnectionConfig` says how to reach one cluster with one identity.
Its :attr:`~ConnectionConfig.key` (URL + a keyed SHA-256 fingerprint of
credentials, CA and client settings) names the pooled client; a rotated
password or CA yields a new key and thus a new client, and the old one is
closed once nobody uses it. Secrets never appear in ``repr``, keys, logs or
errors.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import functools
import hashlib
import hmac
import logging
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import certifi
import httpx
from cachetools import TTLCache

from esml_operator import __version__
from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.errors import ConnectionConfigError, ElasticsearchError, InsecureConnectionError
from esml_operator.elasticsearch.models import ClusterInfo
from esml_operator.elasticsearch.operations import RequestObserver
from esml_operator.elasticsearch.redaction import REDACTED, Redactor

logger = logging.getLogger(__name__)

USER_AGENT = f"esml-operator/{__version__}"
#: Seconds a cluster's ``GET /`` answer is kept at most (a safety net: see :meth:`ConnectionPool.expire_info`).
INFO_MAX_AGE = 3600.0
# Per-process key for fingerprints: a leaked cluster key reveals nothing about a password.
_FINGERPRINT_KEY = secrets.token_bytes(32)


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password={REDACTED!r})"

    @property
    def header(self) -> str:
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"

    def secrets(self) -> tuple[str, ...]:
        return (self.password, self.header.split(" ", 1)[1])


@dataclass(frozen=True)
class ApiKeyAuth:
    """An Elasticsearch API key: the base64 "encoded" form, or ``id:key`` (encoded for you)."""

    api_key: str

    def __repr__(self) -> str:
        return f"ApiKeyAuth(api_key={REDACTED!r})"

    @property
    def encoded(self) -> str:
        value = self.api_key.strip()
        if ":" in value:
            return base64.b64encode(value.encode()).decode("ascii")
        return value

    @property
    def header(self) -> str:
        return f"ApiKey {self.encoded}"

    def secrets(self) -> tuple[str, ...]:
        found = [self.api_key, self.api_key.strip(), self.encoded]
        try:
            decoded = base64.b64decode(self.encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if ":" in decoded:
            found += [decoded, decoded.split(":", 1)[1]]
        return tuple(found)


Auth = BasicAuth | ApiKeyAuth


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``read`` must exceed any Elasticsearch ``timeout`` the caller waits for."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0

    def to_httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class ConnectionConfig:
    url: str
    auth: Auth | None = None
    ca_pem: bytes | None = None
    insecure_skip_tls_verify: bool = False
    allow_plain_http_credentials: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_connections: int = 10
    max_keepalive_connections: int = 5  # idle connections kept for the next requests (--idle-connections)
    keepalive_expiry: float = 5.0  # seconds an idle connection stays open (--idle-connection-expiry)

    def __repr__(self) -> str:
        ca = "None" if self.ca_pem is None else f"<{len(self.ca_pem)} bytes>"
        return (
            f"ConnectionConfig(url={Redactor().text(self.url)!r}, auth={self.auth!r}, ca_pem={ca}, "
            f"insecure_skip_tls_verify={self.insecure_skip_tls_verify}, "
            f"allow_plain_http_credentials={self.allow_plain_http_credentials}, timeouts={self.timeouts!r}, "
            f"max_connections={self.max_connections}, "
            f"max_keepalive_connections={self.max_keepalive_connections}, keepalive_expiry={self.keepalive_expiry})"
        )

    # Cached per instance (a frozen dataclass keeps them in its __dict__, outside eq/hash): a pass asks for
    # the key several times, and it costs an HMAC, a SHA-256 of the CA and a redaction each time.
    @functools.cached_property
    def endpoint(self) -> str:
        """The URL without trailing slash (userinfo redacted; such URLs are refused anyway)."""
        return Redactor().text(self.url.strip()).rstrip("/")

    @functools.cached_property
    def key(self) -> str:
        """Non-secret identity of the client this config needs: ``<endpoint>#<fingerprint>``."""
        digest = hmac.new(_FINGERPRINT_KEY, digestmod=hashlib.sha256)
        for part in (
            type(self.auth).__name__,
            self.auth.header if self.auth is not None else "",
            hashlib.sha256(self.ca_pem).hexdigest() if self.ca_pem is not None else "",
            repr((self.insecure_skip_tls_verify, self.allow_plain_http_credentials, self.timeouts)),
            repr((self.max_connections, self.max_keepalive_connections, self.keepalive_expiry)),
        ):
            digest.update(part.encode())
            digest.update(b"\0")
        return f"{self.endpoint}#{digest.hexdigest()[:16]}"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings to redact from everything the client reports."""
        return self.auth.secrets() if self.auth is not None else ()

    @property
    def authorization(self) -> str | None:
        return self.auth.header if self.auth is not None else None

    def validate(self) -> httpx.URL:
        """Refuse unusable or unsafe settings (permanent errors with a clear message)."""
        try:
            url = httpx.URL(self.url.strip())
        except httpx.InvalidURL as exc:
            raise ConnectionConfigError(f"Invalid Elasticsearch URL {self.endpoint!r}: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ConnectionConfigError(
                f"Invalid Elasticsearch URL {self.endpoint!r}: expected http(s)://host[:port][/path]"
            )
        if url.userinfo:
            raise ConnectionConfigError(
                f"The Elasticsearch URL {self.endpoint!r} carries credentials; put them in the "
                "credentials secret instead"
            )
        if url.query or url.fragment:
            raise ConnectionConfigError(f"The Elasticsearch URL {self.endpoint!r} must not have a query or fragment")
        if url.scheme == "http" and self.auth is not None and not self.allow_plain_http_credentials:
            raise InsecureConnectionError(
                f"Refusing to send credentials to {self.endpoint} over plain http:// (they would travel "
                "unencrypted); use an https:// URL, or start the operator with --allow-plain-http-credentials"
            )
        if self.max_connections < 1 or self.max_keepalive_connections < 0 or self.keepalive_expiry < 0:
            raise ConnectionConfigError(
                "max_connections must be >= 1, max_keepalive_connections and keepalive_expiry >= 0"
            )
        return url


def build_ssl_context(config: ConnectionConfig) -> ssl.SSLContext:
    """The TLS context for ``config``: verification on unless insecure; only the given CA if one is set.

    With a custom CA, ``VERIFY_X509_STRICT`` (default since Python 3.13) is
    cleared: CAs generated by Elasticsearch / elasticsearch-certutil lack the
    key usage extension and fail strict checks (elastic/elasticsearch#117769).
    Chain and host-name verification stay on.
    """
    if config.insecure_skip_tls_verify:
        if config.ca_pem is not None:
            logger.warning("%s: insecureSkipTLSVerify is set, the CA certificate is ignored", config.endpoint)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if config.ca_pem is None:
        return ssl.create_default_context(cafile=certifi.where())
    try:
        ctx = ssl.create_default_context(cadata=config.ca_pem.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        raise ConnectionConfigError(
            f"The CA certificate for {config.endpoint} is not a usable PEM certificate: {exc}"
        ) from None
    ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return ctx


@dataclass(frozen=True)
class _Failure:
    error: ElasticsearchError
    attempts: int
    until: float  # clock time before which connecting is not tried again


TransportFactory = Callable[[ConnectionConfig], httpx.AsyncBaseTransport]


def _next_attempt(error: ElasticsearchError) -> str:
    """When a failed connect is tried again: on the back-off, or (a permanent error) once something changes."""
    if error.temporary:
        return f"next attempt in {error.retry_after or 0.0:.1f}s"
    return "next attempt at the next resync, or when the resource or its Secrets change"


class ConnectionPool:
    """One pooled :class:`ElasticsearchClient` per distinct :attr:`ConnectionConfig.key`.

    ``owner`` (for example a resource's uid) lets the pool close a client as
    soon as no owner uses its key any more (credential rotation, deletion).
    ``transport_factory`` replaces the network transport (tests).
    ``info_max_age`` (seconds) re-reads ``GET /`` after that long at the
    latest; ``None`` keeps the first answer until :meth:`invalidate` or
    :meth:`expire_info`. The controller expires it as soon as a poll shows
    that the cluster's ML nodes changed (a restart, a rolling upgrade), so
    the hourly re-read is only a safety net.
    """

    def __init__(
        self,
        *,
        transport_factory: TransportFactory | None = None,
        info_max_age: float | None = INFO_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
        connect_backoff: float = 1.0,
        connect_backoff_cap: float = 30.0,
        request_observer: Callable[[str], RequestObserver] | None = None,
    ) -> None:
        self._transport_factory = transport_factory
        self._info_max_age = info_max_age
        self._clock = clock
        self._clients: dict[str, ElasticsearchClient] = {}
        self._owners: dict[str, str] = {}
        self._info: TTLCache[str, ClusterInfo] | dict[str, ClusterInfo] = (
            TTLCache(maxsize=4096, ttl=info_max_age, timer=clock) if info_max_age is not None else {}
        )
        self._connecting: dict[str, asyncio.Future[ClusterInfo]] = {}
        self._failures: dict[str, _Failure] = {}
        self._connect_backoff = connect_backoff
        self._connect_backoff_cap = connect_backoff_cap
        self._closed = False
        #: Gives each new client its :data:`RequestObserver` (by endpoint); set it before the first client.
        self.request_observer = request_observer

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._clients)

    def client(self, config: ConnectionConfig) -> ElasticsearchClient:
        """The client for ``config``, created on first use (validates the config)."""
        if self._closed:
            raise RuntimeError("ConnectionPool is closed")
        key = config.key
        existing = self._clients.get(key)
        if existing is not None:
            return existing
        url = config.validate()
        if self._transport_factory is not None:
            transport = self._transport_factory(config)
        else:
            transport = httpx.AsyncHTTPTransport(
                verify=build_ssl_context(config) if url.scheme == "https" else True,
                limits=httpx.Limits(
                    max_connections=config.max_connections,
                    max_keepalive_connections=config.max_keepalive_connections,
                    keepalive_expiry=config.keepalive_expiry,
                ),
                retries=0,
            )
        headers = {"User-Agent": USER_AGENT}
        if config.authorization is not None:
            headers["Authorization"] = config.authorization
        http = httpx.AsyncClient(
            base_url=config.endpoint,
            headers=headers,
            timeout=config.timeouts.to_httpx(),
            transport=transport,
            trust_env=False,  # no proxy or .netrc surprises from the environment
            follow_redirects=False,
        )
        observer = self.request_observer(config.endpoint) if self.request_observer is not None else None
        client = ElasticsearchClient(http, redact=config.secrets, observer=observer)
        self._clients[key] = client
        logger.info("created Elasticsearch client for %s", key)
        return client

    async def acquire(self, config: ConnectionConfig, *, owner: str | None = None) -> ElasticsearchClient:
        """Like :meth:`client`; with ``owner``, moving that owner to a new key frees the old one."""
        client = self.client(config)
        if owner is not None:
            previous = self._owners.get(owner)
            self._owners[owner] = config.key
            if previous is not None and previous != config.key:
                await self._close_if_unowned(previous)
        return client

    async def connect(
        self, config: ConnectionConfig, *, owner: str | None = None, refresh: bool = False
    ) -> tuple[ElasticsearchClient, ClusterInfo]:
        """The client and its cluster's :class:`ClusterInfo` (``GET /``, cached per key).

        Single-flight per key: however many callers connect at once, one
        ``GET /`` is sent and they all get its answer. A failure is remembered
        for a back-off that doubles per consecutive failure
        (``connect_backoff``; the server's ``Retry-After`` is a floor), and callers
        within it get the same error at once without a request: a dead endpoint
        costs one attempt per back-off step. The error's ``retry_after`` is the
        time left until the next attempt, so a caller can come back then.
        """
        client = await self.acquire(config, owner=owner)
        key = config.key
        cached = None if refresh else self._info.get(key)
        if cached is not None:
            return client, cached
        failed = self._failures.get(key)
        if failed is not None and self._clock() < failed.until:
            remembered = copy.copy(failed.error)
            remembered.retry_after = failed.until - self._clock()
            raise remembered
        pending = self._connecting.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._read_info(key, client))
            self._connecting[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        info = await asyncio.shield(pending)
        return client, info

    async def _read_info(self, key: str, client: ElasticsearchClient) -> ClusterInfo:
        try:
            info = await client.info()
        except ElasticsearchError as error:
            attempts = self._failures[key].attempts + 1 if key in self._failures else 1
            delay = min(self._connect_backoff * 2 ** min(attempts - 1, 16), self._connect_backoff_cap)
            delay = max(delay, error.retry_after or 0.0)
            self._failures[key] = _Failure(error, attempts, self._clock() + delay)
            error.retry_after = delay
            logger.warning("connecting to %s failed (attempt %d; %s): %s", key, attempts, _next_attempt(error), error)
            raise
        self._failures.pop(key, None)
        self._info[key] = info
        logger.info("connected to %s: Elasticsearch %s (%s)", key, info.version, info.cluster_name)
        return info

    def expire_info(self, client: ElasticsearchClient) -> None:
        """Read ``GET /`` again at the next :meth:`connect` of ``client``'s cluster (its answer may be stale)."""
        for key, known in self._clients.items():
            if known is client:
                self._info.pop(key, None)

    def invalidate(self, key: str) -> None:
        """Forget the cached :class:`ClusterInfo` and any remembered failure (credentials changed, 401/403)."""
        self._info.pop(key, None)
        self._failures.pop(key, None)

    async def release(self, owner: str) -> None:
        """``owner`` no longer needs its client; close it if nobody else does."""
        key = self._owners.pop(owner, None)
        if key is not None:
            await self._close_if_unowned(key)

    async def _close_if_unowned(self, key: str) -> None:
        if key not in self._owners.values():
            await self._close(key)

    async def _close(self, key: str) -> None:
        client = self._clients.pop(key, None)
        self._info.pop(key, None)
        self._failures.pop(key, None)
        if client is not None:
            logger.info("closing Elasticsearch client for %s", key)
            await client.aclose()

    def _settled(self, key: str, done: asyncio.Future[ClusterInfo]) -> None:
        """Forget a finished connect; its failure counts as seen (every waiter may have been cancelled)."""
        if self._connecting.get(key) is done:
            del self._connecting[key]
        if not done.cancelled():
            done.exception()

    async def aclose(self) -> None:
        """Close every client; a connect still waiting for an answer (a hung endpoint) is cancelled, not awaited."""
        self._closed = True
        pending = list(self._connecting.values())
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._owners.clear()
        for key in list(self._clients):
            await self._close(key)
