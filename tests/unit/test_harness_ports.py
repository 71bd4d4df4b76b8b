"""harness.runner.free_port: a port no outgoing connection can take before the server binds it."""

from __future__ import annotations

import socket

import pytest

from harness import runner


def test_ports_come_from_below_the_kernels_ephemeral_range() -> None:
    low = runner._ephemeral_low()
    ports = {runner.free_port() for _ in range(50)}
    assert all(10_000 <= port < low for port in ports), sorted(ports)
    assert len(ports) > 40  # spread out: two servers started at once rarely get the same one
    port = ports.pop()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))  # free when handed out


def test_a_busy_port_is_never_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", runner.free_port()))
        taken = busy.getsockname()[1]
        other = runner.free_port()
        choices = iter([taken, taken, other])
        monkeypatch.setattr(runner.random, "randint", lambda a, b: next(choices))
        assert runner.free_port() == other
