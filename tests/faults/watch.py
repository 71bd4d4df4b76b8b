"""Every version of the ModelDeployments in a namespace, as a watch delivers them, with the time each arrived.

The faults suite uses it to time condition changes exactly (no polling
interval in the measurement) and to check that status never goes backwards.
It survives an API server restart: the watch is simply opened again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes

GROUP, VERSION, PLURAL = "esml.io", "v1alpha1", "modeldeployments"
# While the API server restarts, urllib3 would log every refused retry of the watch.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


@dataclass(frozen=True)
class Version:
    seen: float  # time.time() when the watch delivered it
    type: str  # ADDED, MODIFIED, DELETED
    name: str
    generation: int
    status: dict[str, Any]
    spec: dict[str, Any]
    deleting: bool
    uid: str

    def condition(self, type_: str) -> dict[str, Any] | None:
        for cond in self.status.get("conditions", []):
            if cond.get("type") == type_:
                return dict(cond)
        return None

    def is_(self, type_: str, status: str, reason: str | None = None) -> bool:
        cond = self.condition(type_)
        return bool(cond and cond["status"] == status and (reason is None or cond.get("reason") == reason))


class StatusWatch:
    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        self.namespace = namespace
        self.versions: list[Version] = []
        self.reconnects = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._api = kubernetes.client.CustomObjectsApi(kubernetes.config.new_client_from_config(str(kubeconfig)))
        self._watch: kubernetes.watch.Watch | None = None
        self._thread = threading.Thread(target=self._run, name="status-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._watch = kubernetes.watch.Watch()
            try:
                for event in self._watch.stream(
                    self._api.list_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    PLURAL,
                    timeout_seconds=10,
                    _request_timeout=15,
                ):
                    self._add(str(event["type"]), event["object"])
                    if self._stop.is_set():
                        break
            except Exception:  # the API server went away: open the watch again
                self.reconnects += 1
                self._stop.wait(0.2)

    def _add(self, type_: str, obj: dict[str, Any]) -> None:
        meta = obj.get("metadata", {})
        version = Version(
            time.time(),
            type_,
            str(meta.get("name")),
            int(meta.get("generation") or 0),
            dict(obj.get("status") or {}),
            dict(obj.get("spec") or {}),
            bool(meta.get("deletionTimestamp")),
            str(meta.get("uid")),
        )
        with self._lock:
            self.versions.append(version)

    def history(self, name: str | None = None, since: float = 0.0) -> list[Version]:
        with self._lock:
            return [v for v in self.versions if (name is None or v.name == name) and v.seen >= since]

    def first(self, name: str, predicate: Callable[[Version], bool], since: float = 0.0) -> Version | None:
        return next((v for v in self.history(name, since) if predicate(v)), None)

    def latest(self, name: str) -> Version | None:
        found = self.history(name)
        return found[-1] if found else None

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            with contextlib.suppress(Exception):
                self._watch.stop()
        self._thread.join(timeout=20)
