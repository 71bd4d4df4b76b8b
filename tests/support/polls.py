"""The operator's ``_stats`` polls among the requests a simulator recorded, matched by their exact path.

A substring such as ``/_stats`` also matches ``GET _ml/memory/_stats``, which the operator sends (with
``GET _ml/info``) while a deployment is short of capacity: counting resync passes, or the requests a fault
hit, by that substring would count those too.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

#: The operator's one cluster-wide poll per resync pass (the client's ``trained_model_stats``).
STATS_POLL = "/_ml/trained_models/_all/_stats"
#: ``STATS_POLL`` as a regular expression that matches it and nothing else (for the fault proxy's rules).
STATS_POLL_RE = f"^{re.escape(STATS_POLL)}$"


class RecordsRequests(Protocol):
    def requests(self, path_contains: str = "", method: str | None = None) -> list[dict[str, Any]]: ...


def is_stats_poll(request: dict[str, Any]) -> bool:
    """Whether a recorded request is the cluster-wide ``_stats`` poll (a GET of exactly ``STATS_POLL``)."""
    return request["method"] == "GET" and request["path"] == STATS_POLL


def stats_polls(sim: RecordsRequests, since: float | None = None) -> list[dict[str, Any]]:
    """The ``_stats`` polls ``sim`` recorded, those at or after the wall-clock time ``since`` if given."""
    polls = [r for r in sim.requests(STATS_POLL, method="GET") if is_stats_poll(r)]
    return [r for r in polls if since is None or r["wall_time"] >= since]
