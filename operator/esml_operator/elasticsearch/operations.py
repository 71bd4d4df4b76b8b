"""What the client reports about each request it sends: a short operation name, the status, the time.

The client calls a :data:`RequestObserver` after every request (the handlers
turn that into metrics; this layer knows nothing about them). The operation is
derived from the method and path, so every request is named, whichever
method of the client sent it.
"""

from __future__ import annotations

from collections.abc import Callable

#: ``(operation, HTTP status or None when no answer came, seconds)``; called after every request.
RequestObserver = Callable[[str, int | None, float], None]

_DEPLOYMENT_ACTIONS = {"_start": "start", "_update": "update", "_stop": "stop"}
_INFERENCE_METHODS = {"GET": "inference_get", "PUT": "inference_put", "DELETE": "inference_delete"}


def operation_of(method: str, path: str) -> str:
    """``start``, ``update``, ``stop``, ``stats``, ``info``, ``ml_info``, ``ml_memory_stats``, ``inference_*`` or
    ``other`` for a request."""
    parts = [part for part in path.split("?", 1)[0].split("/") if part]
    method = method.upper()
    if not parts:
        return "info"
    if parts[:2] == ["_ml", "trained_models"]:
        if parts[-1] == "_stats":
            return "stats"
        if len(parts) == 5 and parts[3] == "deployment":
            return _DEPLOYMENT_ACTIONS.get(parts[4], "other")
        return "other"
    if parts == ["_ml", "info"]:
        return "ml_info"
    if parts[:2] == ["_ml", "memory"] and parts[-1] == "_stats":
        return "ml_memory_stats"
    if parts[0] == "_inference":
        if parts[-1] == "_update":
            return "inference_update"
        if method == "POST":
            return "inference"  # an inference call
        if method == "GET" and parts[1:] == ["_all"]:
            return "inference_list"
        return _INFERENCE_METHODS.get(method, "other")
    return "other"


def status_class(status: int | None) -> str:
    """``2xx`` .. ``5xx``, or ``error`` when no HTTP answer came (refused, reset, timed out, TLS)."""
    if status is None or not 100 <= status <= 599:
        return "error"
    return f"{status // 100}xx"
