"""One aiohttp server class for what the operator serves besides kopf's probe: /metrics and the external metrics API.

Both run on the operator's event loop, without an access log (a scrape every
few seconds is not news). ``ssl_context`` makes it HTTPS (the external metrics
API, which requires the API server's client certificate).
"""

from __future__ import annotations

import logging
import ssl

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


def metrics_app(registry: Collector, path: str) -> web.Application:
    """``GET path``: prometheus-client's own handler (text or OpenMetrics as asked, gzip when accepted, ``name[]``)."""
    app = web.Application()
    app.router.add_get(path, make_aiohttp_handler(registry))
    return app


class HttpServer:
    """Serves ``app`` on ``host:port`` (port 0: any free port, see :attr:`bound_port`)."""

    def __init__(
        self, app: web.Application, host: str, port: int, *, what: str, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.host, self.port, self.what = host, port, what
        self._app, self._ssl = app, ssl_context
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl).start()
        scheme = "https" if self._ssl else "http"
        logger.info("serving %s on %s://%s:%d", self.what, scheme, self.host, self.bound_port)

    @property
    def bound_port(self) -> int:
        """The port actually listened on (differs from ``port`` when that was 0)."""
        assert self._runner is not None, "not started"
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
