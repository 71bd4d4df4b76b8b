"""``esml-operator run``: settings from flags and environment, then kopf."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence

import kopf

from esml_operator.controller.logcontext import ContextFilter
from esml_operator.manager import collector, eventloop, preflight
from esml_operator.manager.registration import build_registry
from esml_operator.settings import VERSION, Settings


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("resource", "cluster"):  # set during a reconcile pass (logcontext.ContextFilter)
            value = getattr(record, key, None)
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(settings: Settings) -> None:
    """Root logging for the operator; ``settings.log_level`` was checked (any case of a level name)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if settings.log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("httpx", "httpcore", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def operator_kwargs(settings: Settings) -> dict[str, object]:
    return {
        "registry": build_registry(settings),
        "clusterwide": settings.all_namespaces,
        "namespaces": list(settings.namespaces),
        "standalone": True,
        "liveness_endpoint": settings.liveness_endpoint or None,
        "memo": kopf.Memo(settings=settings),
    }


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings.load(sys.argv[2:] if argv is None else argv)
    configure_logging(settings)
    try:
        factory = eventloop.loop_factory(settings.event_loop)
        preflight.check(settings)
    except (eventloop.EventLoopUnavailable, preflight.StartupError) as error:
        print(f"esml-operator run: error: {error}", file=sys.stderr)  # one line, as a wrong setting is
        return 2
    if settings.kubeconfig:
        os.environ["KUBECONFIG"] = settings.kubeconfig  # kopf's own login reads it too
    logging.getLogger(__name__).info(
        "starting %s (%s; resync every %gs)",
        VERSION,
        "all namespaces" if settings.all_namespaces else "namespaces " + ",".join(settings.namespaces),
        settings.resync_interval,
    )
    collector.tune()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(kopf.operator(**operator_kwargs(settings)))  # type: ignore[arg-type]
    return 0
