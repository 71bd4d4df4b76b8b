"""The end of a start: request validation and waiting for ``wait_for`` (shared by ``_start`` and inference PUT)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esml_simulator.errors import EsError, status_exception, validation_failed
from esml_simulator.ml.deploy_ops import WAIT_ORDER, StartParams
from esml_simulator.versions import EsVersion

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine


def validate_start(v: EsVersion, p: StartParams, explicit_number: bool) -> None:
    """Start request validation (400 ``action_request_validation_exception``)."""
    errors: list[str] = []
    number = p.number_of_allocations
    if explicit_number and number is not None and number < 1:
        errors.append("[number_of_allocations] must be a positive integer")
    if explicit_number and p.adaptive is not None and p.adaptive.enabled:
        errors.append("[number_of_allocations] cannot be set if adaptive allocations is enabled")
    if p.threads < 1:
        errors.append("[threads_per_allocation] must be a positive integer")
    if p.adaptive is not None:
        errors.extend(p.adaptive.validation_errors())
    if v.route_allocations and (p.threads < 1 or p.threads > 32 or p.threads & (p.threads - 1)):
        errors.append("[threads_per_allocation] must be a power of 2 less than or equal to 32")
    if p.queue_capacity < 1:
        errors.append("[queue_capacity] must be a positive integer")
    if v.queue_max is not None and p.queue_capacity > v.queue_max:
        errors.append(f"[queue_capacity] must be less than {v.queue_max}")
    if p.timeout.seconds <= 0:
        errors.append("[timeout] must be positive")
    if p.priority == "low":
        if (number if number is not None else 1) > 1:
            errors.append("[number_of_allocations] must be 1 when [priority] is low")
        if p.threads > 1:
            errors.append("[threads_per_allocation] must be 1 when [priority] is low")
    if errors:
        raise validation_failed(errors)


async def wait_for_start(engine: Engine, deployment_id: str, p: StartParams) -> None:
    """Wait as ``_start?wait_for=`` does (the start API); 500 and removal if a node fails to load."""
    cluster, clock = engine.cluster, engine.clock
    created = cluster.deployments[deployment_id]
    deadline = clock.now() + p.timeout.seconds
    while True:
        cluster.advance()
        dep = cluster.deployments.get(deployment_id)
        if dep is not created:
            raise status_exception(
                400,
                f"Error waiting for deployment [{deployment_id}] to start: the assignment was removed while waiting",
            )
        failed = {nid: r.reason for nid, r in sorted(dep.routes.items()) if r.state == "failed"}
        if failed:
            del cluster.deployments[deployment_id]
            cluster.rebalance()
            errors = ", ".join(f"{k}={v}" for k, v in failed.items())
            raise status_exception(
                500, f"Could not start trained model deployment, the following nodes failed with errors [{{{errors}}}]"
            )
        if WAIT_ORDER[dep.allocation_state()] >= WAIT_ORDER[p.wait_for]:
            return
        if not any(r.state == "starting" for r in dep.routes.values()):
            return
        if clock.now() >= deadline:
            raise EsError(
                408,
                "model_deployment_timeout_exception",
                f"Timed out after [{p.timeout}] waiting for trained model deployment [{deployment_id}] to start. "
                "Use the trained model stats API to track the state of the deployment and try again once it has "
                "started.",
            )
        upcoming = cluster.next_event_time()
        await engine.wait_until(deadline if upcoming is None else min(upcoming, deadline))
