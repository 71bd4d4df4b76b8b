"""A raw TCP proxy on loopback, for the API server: TLS passes through untouched, so the operator speaks TLS to the
real kube-apiserver (its certificate names 127.0.0.1) while the proxy decides whether anything gets through.

* ``pass``: bytes are piped both ways.
* ``hang``: connections are accepted and read, and nothing is ever answered; the connections open when the hang
  began stall the same way (the API server froze). When the hang ends every connection is reset, as a restarted
  server's are, and new ones are piped again.

Every connection is a :class:`Link` with its times, so a test can tell which requests went unanswered and when
the client gave up on them. It runs on an event loop in a thread of the test process; the public methods are
synchronous, like :class:`~tests.faults.proxy.FaultProxy`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field

from tests.faults.proxy import LoopThread, _reset

#: The longest TLS alert record (a TLS 1.3 close_notify is 24 bytes on the wire); any HTTP request is longer.
ALERT_BYTES = 40


@dataclass
class Link:
    """One client connection (wall-clock times)."""

    accepted: float
    swallowed: list[tuple[float, int]] = field(default_factory=list)  # (time, bytes) the hang kept from the server
    closed: float | None = None  # when the client closed it (or the proxy reset it)
    reset_by_proxy: bool = False

    @property
    def request_at(self) -> float | None:
        """When a request on it went unanswered: the client's first swallowed bytes longer than a TLS alert (an
        idle connection's close_notify is not a request)."""
        return next((at for at, size in self.swallowed if size > ALERT_BYTES), None)

    def gave_up_at(self) -> float | None:
        """When the client gave that request up: its close_notify (the TLS alert it sends as it closes), or the
        connection's close, whichever came first (None: not yet, or no request went unanswered)."""
        start = self.request_at
        if start is None:
            return None
        ends = [at for at, size in self.swallowed if at >= start and size <= ALERT_BYTES][:1]
        if self.closed is not None and not self.reset_by_proxy:
            ends.append(self.closed)
        return min(ends, default=None)


class TcpProxy(LoopThread):
    def __init__(self, upstream: str) -> None:
        """``upstream``: ``https://host:port`` (the API server's URL; only its host and port are used)."""
        host, _, port = upstream.removeprefix("https://").rpartition(":")
        self._upstream = (host, int(port))
        self.mode = "pass"
        self.links: list[Link] = []
        self._lock = threading.Lock()
        self._writers: dict[int, list[asyncio.StreamWriter]] = {}  # id(link) -> its two ends
        super().__init__("tcp-proxy")
        self.port = self._call(self._start())

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def set_mode(self, mode: str) -> None:
        """``pass`` or ``hang``; ending a hang resets every connection open at that moment."""
        assert mode in ("pass", "hang"), mode
        self._call(self._switch(mode))

    def open_links(self) -> list[Link]:
        with self._lock:
            return [link for link in self.links if link.closed is None]

    # -- event loop side ----------------------------------------------------------------------
    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=256)
        return int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        self._server.close()
        await self._reset_all()
        pending = asyncio.all_tasks() - {asyncio.current_task()}  # the connections' pipes, ending on the resets
        if pending:
            await asyncio.wait(pending, timeout=5)

    async def _switch(self, mode: str) -> None:
        ending_hang = self.mode == "hang" and mode == "pass"
        self.mode = mode
        if ending_hang:
            await self._reset_all()

    async def _reset_all(self) -> None:
        with self._lock:
            open_links = [link for link in self.links if link.closed is None]
        for link in open_links:
            link.reset_by_proxy = True
            for writer in self._writers.pop(id(link), []):
                _reset(writer)
            self._closed(link)

    def _closed(self, link: Link) -> None:
        with self._lock:
            if link.closed is None:
                link.closed = time.time()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = Link(time.time())
        with self._lock:
            self.links.append(link)
        self._writers[id(link)] = [writer]
        try:
            if self.mode == "hang":
                await self._swallow(link, reader)
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(*self._upstream)
            except OSError:
                _reset(writer)
                return
            self._writers[id(link)].append(up_writer)
            await asyncio.gather(self._pipe(link, reader, up_writer, True), self._pipe(link, up_reader, writer, False))
        finally:
            self._closed(link)
            for end in self._writers.pop(id(link), []):
                with contextlib.suppress(Exception):
                    end.close()

    async def _swallow(self, link: Link, reader: asyncio.StreamReader) -> None:
        """Read what the client sends and never answer, until it gives up."""
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                self._swallow_bytes(link, data)

    @staticmethod
    def _swallow_bytes(link: Link, data: bytes) -> None:
        link.swallowed.append((time.time(), len(data)))

    async def _pipe(
        self, link: Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, from_client: bool
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if self.mode == "hang":  # frozen: nothing gets through either way
                    if from_client:
                        self._swallow_bytes(link, data)
                    continue
                writer.write(data)
                await writer.drain()
        if from_client:
            self._closed(link)  # the client closed its end
        with contextlib.suppress(Exception):
            writer.close()
