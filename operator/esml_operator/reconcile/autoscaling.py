"""The rule between an autoscaler and adaptive allocations, as a condition. Pure.

An autoscaler (a HorizontalPodAutoscaler, or KEDA through the HPA it creates)
drives ``spec.numberOfAllocations`` through ``/scale``. Adaptive allocations let
Elasticsearch drive the same count. Both at once would fight, so:

* While ``adaptiveAllocations.enabled`` is true, Elasticsearch owns the count.
  The operator never sends ``number_of_allocations`` then (see
  :mod:`.plan`), so whatever an autoscaler writes changes nothing in
  Elasticsearch; ``status.allocations`` (the ``/scale`` status the autoscaler
  reads) keeps reporting Elasticsearch's real count. ``AutoscalerConflict``
  is ``True`` (reason ``AdaptiveAllocationsEnabled``) and names the
  autoscaler(s), with a Warning event when it turns ``True``.
* Two or more HPAs on one ModelDeployment overwrite each other:
  ``AutoscalerConflict`` is ``True`` (reason ``MultipleAutoscalers``).
* One HPA and no adaptive allocations: ``AutoscalerConflict`` is ``False``
  (``NoConflict``) and says which HPA drives the count.

The operator never resolves the conflict itself (it never changes the spec and
never touches the HPA): the user chooses. The condition is present only while
an autoscaler targets the resource. While a conflict holds on a deployment that
is otherwise Ready, ``Ready`` stays ``True`` (it serves) with the reason
``AutoscalerConflict``, so ``kubectl get`` shows it in the REASON column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from . import conditions as c
from .model import Event
from .spec import ModelDeploymentSpec, SpecError

AUTOSCALER_CONFLICT = "AutoscalerConflict"


def autoscaler_condition(spec: ModelDeploymentSpec | SpecError, autoscalers: Sequence[str]) -> c.ConditionValue | None:
    """``AutoscalerConflict`` for a resource targeted by ``autoscalers`` (HPA names); None when none does."""
    if not autoscalers or isinstance(spec, SpecError):
        return None  # an invalid spec: Ready and Stalled already report it
    names = ", ".join(sorted(autoscalers))
    if spec.adaptive_enabled:
        return c.ConditionValue(
            c.TRUE,
            "AdaptiveAllocationsEnabled",
            f"HorizontalPodAutoscaler {names} targets this ModelDeployment while adaptiveAllocations.enabled is "
            "true: Elasticsearch owns the allocation count, so the numberOfAllocations the autoscaler writes "
            "through /scale is ignored and changes nothing. Disable adaptive allocations or remove the autoscaler",
        )
    if len(autoscalers) > 1:
        return c.ConditionValue(
            c.TRUE,
            "MultipleAutoscalers",
            f"{len(autoscalers)} HorizontalPodAutoscalers ({names}) target this ModelDeployment and overwrite each "
            "other's numberOfAllocations; keep one",
        )
    return c.ConditionValue(c.FALSE, "NoConflict", f"HorizontalPodAutoscaler {names} drives numberOfAllocations")


def surface_on_ready(verdict: c.Verdict, conflict: c.ConditionValue | None) -> None:
    """A conflict on a Ready deployment becomes Ready's reason (the REASON column); Ready stays True."""
    ready = verdict.ready
    if conflict is None or conflict.status != c.TRUE or ready is None or ready.status != c.TRUE:
        return
    verdict.ready = c.ConditionValue(c.TRUE, AUTOSCALER_CONFLICT, f"{ready.message}; {conflict.message}")


def autoscaler_conditions(
    value: c.ConditionValue | None,
    previous_status: Mapping[str, Any] | None,
    now: datetime,
    generation: int,
) -> tuple[list[dict[str, Any]], tuple[Event, ...]]:
    """The condition (as a list: empty without an autoscaler) and the Warning event when it turns True."""
    if value is None:
        return [], ()
    previous = c.previous_conditions(previous_status)
    rendered = c.render({AUTOSCALER_CONFLICT: value}, previous, now, generation, kinds=(AUTOSCALER_CONFLICT,))
    before = previous.get(AUTOSCALER_CONFLICT)
    turned_true = value.status == c.TRUE and (
        before is None or (before.get("status"), before.get("reason")) != (c.TRUE, value.reason)
    )
    events = (Event("Warning", AUTOSCALER_CONFLICT, rendered[0]["message"]),) if turned_true else ()
    return rendered, events
