"""A TCP proxy in front of a healthy Elasticsearch that can go dark (a hung cluster, a black-holing network).

Until :meth:`DarkProxy.go_dark` it forwards bytes both ways (TLS passes through untouched). From then on it
forwards nothing: connections already open stay open and unanswered, and new ones are accepted and held,
read from and never answered. So every request to the cluster, in flight or new, waits out its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class DarkProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.connections = 0  # accepted, in all
        self.dark_connections = 0  # accepted after going dark
        self.dark_since: float | None = None  # wall clock

    @property
    def dark(self) -> bool:
        return self.dark_since is not None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        return int(self.server.sockets[0].getsockname()[1])

    def go_dark(self) -> float:
        """Forward nothing from now on; the wall-clock moment it went dark."""
        self.dark_since = time.time()
        return self.dark_since

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)  # keep the socket open whatever happens
        if self.dark:
            self.dark_connections += 1
            return  # accepted, never answered
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self.writers.append(up_writer)
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pipe(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await src.read(65536):
                if self.dark:
                    continue  # swallowed: the other side waits for an answer that never comes
                dst.write(data)
                await dst.drain()
            if not self.dark:
                dst.close()

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
