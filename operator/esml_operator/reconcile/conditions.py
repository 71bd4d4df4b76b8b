"""Conditions with kstatus semantics, and the events their transitions deserve.

Four conditions are always present: ``Ready``, ``Reconciling``, ``Stalled``
and ``ElasticsearchReachable``. ``Reconciling`` and ``Stalled`` are never both
``True``. ``lastTransitionTime`` changes only when a condition's status does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .model import Event
from .timeutil import format_time

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
REACHABLE = "ElasticsearchReachable"
CONDITION_TYPES = (READY, RECONCILING, STALLED, REACHABLE)

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
PAUSED = "Paused"
MAX_MESSAGE_LENGTH = 2048
_REASON_CHARS = re.compile(r"[^A-Za-z0-9_,:]")


@dataclass(frozen=True)
class ConditionValue:
    status: str
    reason: str
    message: str


@dataclass
class Verdict:
    """Accumulates what one pass found. The first finding for Ready (the most
    important, by the order ``decide`` checks things) wins; any progress makes
    ``Reconciling`` True, which then hides a stall until the progress is done."""

    ready: ConditionValue | None = None
    warning: bool = False  # Ready's reason is a problem worth a Warning event
    progress: ConditionValue | None = None
    stall: ConditionValue | None = None
    requeue_after: float | None = None

    def not_ready(self, reason: str, message: str, *, warning: bool = False, status: str = FALSE) -> None:
        if self.ready is None:
            self.ready = ConditionValue(status, reason, message)
            self.warning = warning

    def is_ready(self, reason: str, message: str) -> None:
        if self.ready is None:
            self.ready = ConditionValue(TRUE, reason, message)

    def progressing(self, reason: str, message: str, *, requeue_after: float | None = None) -> None:
        if self.progress is None:
            self.progress = ConditionValue(TRUE, reason, message)
        self.requeue(requeue_after)

    def stalled(self, reason: str, message: str) -> None:
        if self.stall is None:
            self.stall = ConditionValue(TRUE, reason, message)

    def requeue(self, seconds: float | None) -> None:
        if seconds is None:
            return
        seconds = max(seconds, 0.0)
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = seconds


def sanitize_reason(reason: str) -> str:
    """A reason valid for ``metav1.Condition`` (``^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$``)."""
    cleaned = _REASON_CHARS.sub("_", reason).rstrip(",:")
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "Error" + ("_" + cleaned if cleaned else "")
    return cleaned[:1024]


def _message(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[: MAX_MESSAGE_LENGTH - 3] + "..."


def previous_conditions(previous_status: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    if not previous_status:
        return {}
    found: dict[str, Mapping[str, Any]] = {}
    conditions = previous_status.get("conditions")
    if isinstance(conditions, list):
        for item in conditions:
            if isinstance(item, Mapping) and isinstance(item.get("type"), str):
                found[item["type"]] = item
    return found


def resolve(verdict: Verdict, *, paused: bool, reachable: ConditionValue) -> dict[str, ConditionValue]:
    """Turn the findings into the four condition values."""
    ready = verdict.ready or ConditionValue(UNKNOWN, "AwaitingObservation", "Not yet observed")
    if paused:
        reconciling = ConditionValue(FALSE, PAUSED, "Reconciliation is paused (spec.paused); nothing is changed")
    elif verdict.progress is not None:
        reconciling = verdict.progress
    elif verdict.stall is not None:
        reconciling = ConditionValue(FALSE, "Stalled", "No progress is possible; see the Stalled condition")
    else:
        reconciling = ConditionValue(FALSE, "Reconciled", "Elasticsearch matches the spec")
    if verdict.stall is not None and reconciling.status != TRUE:
        stalled = verdict.stall
    else:
        stalled = ConditionValue(FALSE, "NotStalled", "")
    return {READY: ready, RECONCILING: reconciling, STALLED: stalled, REACHABLE: reachable}


def render(
    values: Mapping[str, ConditionValue],
    previous: Mapping[str, Mapping[str, Any]],
    now: datetime,
    generation: int,
    *,
    kinds: tuple[str, ...] = CONDITION_TYPES,
) -> list[dict[str, Any]]:
    conditions = []
    for kind in kinds:
        value = values[kind]
        before = previous.get(kind)
        transition = format_time(now)
        if before is not None and before.get("status") == value.status and before.get("lastTransitionTime"):
            transition = str(before["lastTransitionTime"])
        conditions.append(
            {
                "type": kind,
                "status": value.status,
                "reason": sanitize_reason(value.reason),
                "message": _message(value.message),
                "lastTransitionTime": transition,
                "observedGeneration": generation,
            }
        )
    return conditions


def transition_events(
    conditions: list[dict[str, Any]], previous: Mapping[str, Mapping[str, Any]], *, warning: bool
) -> tuple[Event, ...]:
    """Events for what changed since the previous status, never one per poll."""
    now = {item["type"]: item for item in conditions}
    ready, before = now[READY], previous.get(READY)
    events: list[Event] = []
    if ready["status"] == TRUE:
        if before is None or before.get("status") != TRUE:
            events.append(Event("Normal", "Ready", ready["message"]))
    elif warning and (
        before is None
        or before.get("status") == TRUE
        or (before.get("reason"), before.get("message")) != (ready["reason"], ready["message"])
    ):
        events.append(Event("Warning", ready["reason"], ready["message"]))
    was_paused = previous.get(RECONCILING, {}).get("reason") == PAUSED
    is_paused = now[RECONCILING]["reason"] == PAUSED
    if is_paused and not was_paused:
        events.append(Event("Normal", "Paused", "Reconciliation paused: the operator observes but changes nothing"))
    elif was_paused and not is_paused:
        events.append(Event("Normal", "Resumed", "Reconciliation resumed"))
    return tuple(events)
