"""bench.blackhole.DarkProxy: forwards until it goes dark, then answers nothing on old or new connections."""

from __future__ import annotations

import asyncio

import pytest

from bench.blackhole import DarkProxy

SILENCE = 0.3  # seconds an answer would take at most over loopback (the echo answers at once)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def test_forwards_then_goes_dark() -> None:
    upstream = await asyncio.start_server(_echo, "127.0.0.1", 0)
    proxy = DarkProxy("127.0.0.1", upstream.sockets[0].getsockname()[1])
    port = await proxy.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        assert not proxy.dark

        proxy.go_dark()
        writer.write(b"again")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(5), SILENCE)  # the open connection hangs

        late_reader, late_writer = await asyncio.open_connection("127.0.0.1", port)  # accepted...
        late_writer.write(b"hello")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(late_reader.read(5), SILENCE)  # ...and never answered
        assert (proxy.connections, proxy.dark_connections) == (2, 1)  # it was accepted while we waited
        for w in (writer, late_writer):
            w.close()
    finally:
        await proxy.stop()
        upstream.close()
        await upstream.wait_closed()
