"""A fault-injecting HTTPS proxy on loopback, in front of one simulator, for the faults suite.

The simulator's own fault API covers HTTP errors, latency and hangs. What it
cannot do, this proxy does, and it counts everything it sees:

* ``reset``: every TCP connection is reset as soon as it is accepted (the
  client sees a failed connect). A closed port would look the same to the
  client, but the kernel's refusals cannot be counted from user space.
* ``hang``: TLS completes, requests are read, and no answer ever comes.
* ``pass``: requests are forwarded to the simulator, except where a
  :class:`Rule` answers (malformed bodies, HTML pages, added latency).
* Several TLS identities (a certificate from another CA, for rotation), one
  of them active at a time.

Layers: a TCP front (modes, counting, resets, connection attribution to a
process) pipes each connection to an aiohttp TLS back end (HTTP rules,
request log), which forwards with httpx. Everything runs on an event loop in a
thread of the test process; the public methods are synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiohttp import web

from harness.certs import Pair

T = TypeVar("T")
FORWARDED_HEADERS = ("content-type", "x-elastic-product", "retry-after", "www-authenticate", "warning")


@dataclass(frozen=True)
class Reply:
    """An HTTP answer as the proxy sends it."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Rule:
    """Answer requests whose method and path match: ``answer`` gets the simulator's reply (or None) and returns one.

    ``method`` ``*`` matches every method. ``upstream=False`` never forwards the request (the simulator does
    not see it). ``delay`` is awaited before anything else. ``count`` limits how many requests the rule takes.
    """

    method: str
    path: str
    answer: Callable[[Reply | None], Reply] | None = None
    upstream: bool = True
    delay: Callable[[], float] | None = None
    count: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.search(self.path, path) is not None


@dataclass
class Seen:
    """One HTTP request that reached the back end."""

    method: str
    path: str
    started: float  # time.time()
    pid: int | None
    status: int | None = None  # None: never answered (hung, or the client gave up)
    ended: float | None = None


@dataclass
class Connection:
    accepted: float
    mode: str
    pid: int | None


class LoopThread:
    """An event loop in a daemon thread of the test process, for a proxy whose public methods are synchronous."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._stop(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _stop(self) -> None:
        """Close what the proxy opened (on the loop, before it stops)."""


class FaultProxy(LoopThread):
    def __init__(self, upstream: str, upstream_ca: Path, identities: list[Pair]) -> None:
        self.upstream, self.upstream_ca, self.identities = upstream, upstream_ca, identities
        self.mode = "pass"
        self.identity = 0
        self.rules: list[Rule] = []
        self.requests: list[Seen] = []
        self.connections: list[Connection] = []
        self.pids: list[int] = []  # processes to attribute connections to (see attribute())
        self._lock = threading.Lock()
        super().__init__("fault-proxy")
        self._open: set[asyncio.StreamWriter] = set()
        self._backend_peer: dict[int, int | None] = {}  # back-end connection's local port -> client pid
        self._release = asyncio.Event()
        self.port, self._backends = self._call(self._start())

    # -- public, synchronous ------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def set_mode(self, mode: str) -> None:
        """``pass``, ``reset`` or ``hang``. Open connections are reset (as when a server goes away)."""
        assert mode in ("pass", "reset", "hang"), mode
        self._call(self._switch(mode=mode))

    def use_identity(self, index: int) -> None:
        """Serve the ``index``-th certificate from now on; open connections are reset."""
        self._call(self._switch(identity=index))

    def add_rule(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear_rules(self) -> None:
        with self._lock:
            self.rules.clear()

    def seen(self, since: float = 0.0, path: str = "") -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.started >= since and path in r.path]

    def connects(self, since: float = 0.0) -> list[Connection]:
        with self._lock:
            return [c for c in self.connections if c.accepted >= since]

    def concurrency(self, since: float = 0.0, tolerance: float = 0.25) -> dict[str, int]:
        """The most requests in flight at once, per method and path. A request counts until its client got the
        answer or gave up; ``tolerance`` absorbs the moment the proxy takes to notice that a client left."""
        seen = self.seen(since)
        now = time.time()
        most: dict[str, int] = {}
        for b in seen:
            key = f"{b.method} {b.path}"
            earlier = [a for a in seen if a is not b and f"{a.method} {a.path}" == key]
            at_once = 1 + sum(1 for a in earlier if a.started <= b.started < (a.ended or now) - tolerance)
            most[key] = max(most.get(key, 0), at_once)
        return most

    # -- event loop side ----------------------------------------------------------------------
    async def _start(self) -> tuple[int, list[tuple[web.AppRunner, int]]]:
        verify = ssl.create_default_context(cafile=str(self.upstream_ca))
        self._client = httpx.AsyncClient(base_url=self.upstream, verify=verify, timeout=120)
        backends = []
        for pair in self.identities:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(pair.cert), str(pair.key))
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
            await site.start()
            server = site._server  # the bound port of port 0
            assert isinstance(server, asyncio.Server)
            backends.append((runner, int(server.sockets[0].getsockname()[1])))
        self._front = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=256)
        return int(self._front.sockets[0].getsockname()[1]), backends

    async def _stop(self) -> None:
        self._front.close()
        self._release.set()
        for writer in list(self._open):
            _reset(writer)
        for runner, _ in self._backends:
            await runner.cleanup()
        await self._client.aclose()

    async def _switch(self, *, mode: str | None = None, identity: int | None = None) -> None:
        if mode is not None:
            self.mode = mode
        if identity is not None:
            self.identity = identity
        self._release.set()  # hung requests end (their clients see the connection drop)
        self._release = asyncio.Event()
        for writer in list(self._open):
            _reset(writer)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        pid = self._attribute(int(peer[1])) if self.pids else None
        with self._lock:
            self.connections.append(Connection(time.time(), self.mode, pid))
        if self.mode == "reset":
            _reset(writer)
            return
        self._open.add(writer)
        try:
            port = self._backends[self.identity][1]
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            self._open.discard(writer)
            _reset(writer)
            return
        self._backend_peer[int(up_writer.get_extra_info("sockname")[1])] = pid
        self._open.add(up_writer)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._open.discard(w)
                with contextlib.suppress(Exception):
                    w.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        pid = self._backend_peer.get(int(peer[1])) if peer else None
        seen = Seen(request.method, request.path, time.time(), pid)
        with self._lock:
            self.requests.append(seen)
            rule = next((r for r in self.rules if r.matches(request.method, request.path)), None)
            if rule is not None:
                rule.hits += 1
                if rule.count is not None and rule.hits >= rule.count:
                    self.rules.remove(rule)
        try:
            reply = await self._answer(request, rule)
        finally:
            seen.ended = time.time()
        if reply is None:  # hung, or the client gave up: no answer at all
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable()  # never reaches the client: its connection is gone
        seen.status = reply.status
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    async def _answer(self, request: web.Request, rule: Rule | None) -> Reply | None:
        if self.mode == "hang":
            await _until(request, self._release.wait())
            return None
        if rule is not None and rule.delay is not None and not await _until(request, asyncio.sleep(rule.delay())):
            return None
        upstream = None
        if rule is None or rule.upstream:
            upstream = await self._forward(request)
        if rule is None or rule.answer is None:
            return upstream
        return rule.answer(upstream)

    async def _forward(self, request: web.Request) -> Reply:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in ("authorization", "content-type", "accept", "user-agent")
        }
        response = await self._client.request(
            request.method, request.path_qs, content=await request.read(), headers=headers
        )
        kept = {k: v for k, v in response.headers.items() if k.lower() in FORWARDED_HEADERS}
        return Reply(response.status_code, response.content, kept)

    def _attribute(self, client_port: int) -> int | None:
        """The process (among ``self.pids``) that owns the client end of a loopback connection to the proxy."""
        inode = _socket_inode(client_port, self.port)
        if inode is None:
            return None
        target = f"socket:[{inode}]"
        for pid in list(self.pids):
            with contextlib.suppress(OSError):
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    with contextlib.suppress(OSError):
                        if fd.readlink().name == target or str(fd.readlink()) == target:
                            return pid
        return None


async def _until(request: web.Request, waiting: Coroutine[Any, Any, Any]) -> bool:
    """Await ``waiting`` while the client is still connected; False if it went away first."""
    task = asyncio.ensure_future(waiting)
    try:
        while not task.done():
            if request.transport is None or request.transport.is_closing():
                return False
            await asyncio.wait({task}, timeout=0.05)
        return True
    finally:
        task.cancel()


def _socket_inode(local_port: int, remote_port: int) -> str | None:
    wanted = (f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}")
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if (fields[1], fields[2]) == wanted:
                return fields[9]
    return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(Exception):
        writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed or refusing server does."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- malformed answers (rules' ``answer`` functions) ----------------------------------------------


def truncated(reply: Reply | None) -> Reply:
    """The body cut in the middle (a proxy that gave up mid-stream)."""
    assert reply is not None
    return replace(reply, body=reply.body[: max(1, len(reply.body) // 2)])


def html_page(status: int, product_header: bool = False) -> Callable[[Reply | None], Reply]:
    """An HTML error page, as a load balancer or an ingress answers."""

    def answer(_: Reply | None) -> Reply:
        body = f"<html><head><title>{status}</title></head><body><h1>{status} Bad Gateway</h1></body></html>"
        headers = {"Content-Type": "text/html"}
        if product_header:
            headers["X-Elastic-Product"] = "Elasticsearch"
        return Reply(status, body.encode(), headers)

    return answer


def json_edit(edit: Callable[[Any], Any]) -> Callable[[Reply | None], Reply]:
    """The simulator's JSON answer, changed by ``edit`` (wrong types, missing fields)."""
    import json

    def answer(reply: Reply | None) -> Reply:
        assert reply is not None
        return replace(reply, body=json.dumps(edit(json.loads(reply.body))).encode())

    return answer
