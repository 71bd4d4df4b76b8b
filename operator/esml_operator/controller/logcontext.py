"""The resource and cluster a log line is about, carried by context variables through a pass.

A pass runs in a task of its own (see :mod:`.workqueue`), so what
:func:`bind_resource` and :func:`bind_cluster` set there stays with that pass
(and with the tasks it starts). :class:`ContextFilter` copies both onto every
log record as ``record.resource`` (``namespace/name``) and ``record.cluster``
(the Elasticsearch endpoint URL, which never carries credentials); the JSON
log format writes them as fields.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

_resource: ContextVar[str | None] = ContextVar("esml_resource", default=None)
_cluster: ContextVar[str | None] = ContextVar("esml_cluster", default=None)


def bind_resource(namespace_name: str) -> None:
    """The pass under way is about ``namespace/name``; its cluster is not known yet."""
    _resource.set(namespace_name)
    _cluster.set(None)


def bind_cluster(endpoint: str | None) -> None:
    _cluster.set(endpoint or None)


def current() -> tuple[str | None, str | None]:
    """(resource, cluster) of the pass under way, if any."""
    return _resource.get(), _cluster.get()


class ContextFilter(logging.Filter):
    """Adds ``resource`` and ``cluster`` to every record (None outside a pass); never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        resource, cluster = current()
        if not hasattr(record, "resource"):
            record.resource = resource
        if not hasattr(record, "cluster"):
            record.cluster = cluster
        return True
