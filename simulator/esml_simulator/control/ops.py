"""Helpers behind the ``Control`` operations (``control.control``) on inference endpoints and security."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from esml_simulator.ml.builtin_models import ELSER_X86
from esml_simulator.ml.cluster import MlCluster
from esml_simulator.ml.inference.endpoints import TASK_TYPES, InferenceEndpoint
from esml_simulator.security.auth import Security

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine


class AdminError(Exception):
    """A refused admin request (rendered as ``{"error": ..., "status": ...}``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _admin_error(status: int, message: str) -> AdminError:
    return AdminError(status, message)


def direct_endpoint(
    cluster: MlCluster,
    inference_id: str,
    deployment_id: str | None,
    *,
    task_type: str,
    model_id: str | None,
    num_threads: int | None,
    num_allocations: int | None,
    adaptive: dict[str, Any] | None,
) -> InferenceEndpoint:
    if not inference_id:
        raise _admin_error(400, "an inference id is required")
    if task_type not in TASK_TYPES:
        raise _admin_error(400, f"unknown task type [{task_type}]; expected one of {list(TASK_TYPES)}")
    attached = deployment_id is not None and deployment_id != inference_id
    dep = cluster.deployments.get(deployment_id if attached and deployment_id else inference_id)
    if adaptive is None and dep is not None and dep.adaptive is not None:
        adaptive = dep.adaptive.render()
    if num_allocations is None and adaptive is None:
        num_allocations = dep.number_of_allocations if dep is not None else 1
    reserved = cluster.inference.is_reserved(inference_id)
    return InferenceEndpoint(
        inference_id=inference_id,
        task_type=task_type,
        service="elasticsearch",
        model_id=model_id or (dep.model_id if dep is not None else ELSER_X86),
        num_threads=num_threads or (dep.threads if dep is not None else 1),
        num_allocations=num_allocations,
        adaptive=None if adaptive is None else dict(adaptive),
        deployment_id=deployment_id if attached else None,
        default=reserved,
    )


def describe_endpoints(engine: Engine) -> list[dict[str, Any]]:
    cluster = engine.cluster
    out = []
    for endpoint in cluster.inference.all():
        dep_id = endpoint.ml_deployment_id
        out.append(
            {
                "endpoint": endpoint.render(engine.version),
                "default": endpoint.default,
                "stored": endpoint.inference_id in cluster.inference.stored,
                "owns_deployment": endpoint.owns_deployment,
                "deployment_id": dep_id,
                "deployment_exists": dep_id in cluster.deployments,
            }
        )
    return out


def _role_spec(role: str | list[str]) -> str:
    return role if isinstance(role, str) else ",".join(role)


def add_user(security: Security, username: str, password: str, role: str | list[str]) -> dict[str, Any]:
    if not username or not password:
        raise _admin_error(400, "username and password are required")
    try:
        user = security.add_user(username, password, _role_spec(role), dynamic=True)
    except ValueError as exc:
        raise _admin_error(400, str(exc)) from None
    return {"username": user.username, "roles": [r.name for r in user.roles], "cluster": sorted(user.privileges)}


def add_api_key(security: Security, key_id: str, key: str, role: str | list[str]) -> dict[str, Any]:
    if not key_id or not key or ":" in key_id:
        raise _admin_error(400, "an API key needs an id (without ':') and a key")
    try:
        api_key = security.add_api_key(key_id, key, _role_spec(role))
    except ValueError as exc:
        raise _admin_error(400, str(exc)) from None
    return {
        "id": api_key.id,
        "cluster": sorted(api_key.owner_privileges),
        "encoded": base64.b64encode(f"{key_id}:{key}".encode()).decode(),
    }
