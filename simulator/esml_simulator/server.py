"""The :class:`Simulator`: the HTTP server plus its ``Control`` (``esml_simulator.control``), usable in-process."""

from __future__ import annotations

import logging
import ssl
from functools import partial
from types import TracebackType
from typing import Any

from aiohttp import web

from esml_simulator.api.routes import ROUTES
from esml_simulator.clock import Clock, FakeClock
from esml_simulator.config import SimulatorConfig
from esml_simulator.control.control import Control
from esml_simulator.control.handler import handle_admin
from esml_simulator.ml.cluster import MlCluster
from esml_simulator.ml.engine import Engine
from esml_simulator.rest.app import make_app
from esml_simulator.state_file import StateWriter, check_version, read_state

logger = logging.getLogger(__name__)


class Simulator:
    """An Elasticsearch ML simulator on a loopback port.

    ``Simulator(port=0, fake_clock=True, models=["m"])`` or ``Simulator(SimulatorConfig(...))``;
    ``await sim.start()``, use ``sim.url`` and ``sim.control``, ``await sim.stop()`` (or ``async with``).
    """

    def __init__(self, config: SimulatorConfig | None = None, *, clock: Clock | None = None, **overrides: Any):
        if config is None:
            config = SimulatorConfig(port=0)
        for key, value in overrides.items():
            if not hasattr(config, key):
                raise TypeError(f"unknown simulator setting {key!r}")
            setattr(config, key, value)
        self.config = config
        self.engine = Engine(config, clock)
        self._writer = StateWriter(config.state_file) if config.state_file else None
        self.control = Control(self.engine, save=self.save_state if config.state_file else None)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def cluster(self) -> MlCluster:
        return self.engine.cluster

    @property
    def clock(self) -> Clock:
        return self.engine.clock

    @property
    def scheme(self) -> str:
        return "https" if self.config.tls_cert else "http"

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator is not started")
        host = self.config.host
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.port}"

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.config.tls_cert:
            return None
        if not self.config.tls_key:
            raise ValueError("--tls-cert needs --tls-key")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return context

    async def start(self) -> None:
        self._load_state()
        app = make_app(
            self.engine,
            ROUTES,
            partial(handle_admin, self.control),
            after_change=self._saved_after_change if self._writer else None,
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port, ssl_context=self._ssl_context())
        try:
            await site.start()
            self._first_write()  # only once the port is ours: a second simulator on a taken port writes nothing
        except BaseException:
            await runner.cleanup()
            raise
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1])
        self._runner = runner

    def _load_state(self) -> None:
        if self.config.state_file:
            data = read_state(self.config.state_file)
            if data is not None:
                check_version(data, self.config.state_file, self.engine.version)
                self.engine.load(data)

    def _first_write(self) -> None:
        """Write the state at start, so that an unwritable place fails now, not at the first change."""
        try:
            self.save_state()
        except OSError as exc:
            raise OSError(
                f"cannot write the state file {self.config.state_file}: {exc.strerror or exc} "
                "(choose another with --state-file, or keep none with --ephemeral)"
            ) from None

    def save_state(self) -> None:
        if self._writer is not None:
            self._writer.write(self.engine.dump())

    def _saved_after_change(self) -> None:
        """After a request that may change the state: written at once, so even a SIGKILL loses nothing."""
        try:
            self.save_state()
        except OSError as exc:
            logger.warning("esml-simulator: could not save the state to %s: %s", self.config.state_file, exc)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.engine.faults.release_all()
        if isinstance(self.engine.clock, FakeClock):
            self.engine.clock.wake_all()
        if self.config.state_file:
            self.save_state()
        await runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
