"""Apply one planned action to Elasticsearch (the thin "act" step)."""

from __future__ import annotations

from esml_operator.elasticsearch.client import ElasticsearchClient
from esml_operator.elasticsearch.models import UNSET, Assignment, EsVersion
from esml_operator.reconcile import Action, StartDeployment, StopDeployment, UpdateDeployment, UpdateInferenceEndpoint


async def apply_action(client: ElasticsearchClient, version: EsVersion, action: Action) -> Assignment | None:
    """Run ``action``; the resulting assignment for start/update, ``None`` for stop and for an inference
    endpoint's ``_update`` (which answers with the endpoint's stored configuration, not an assignment)."""
    if isinstance(action, StartDeployment):
        return await client.start_deployment(
            action.model_id,
            version=version,
            deployment_id=action.deployment_id,
            number_of_allocations=action.number_of_allocations,
            threads_per_allocation=action.threads_per_allocation,
            queue_capacity=action.queue_capacity,
            cache_size=action.cache_size,
            priority=action.priority,
            adaptive_allocations=action.adaptive,
            wait_for="starting",
        )
    if isinstance(action, UpdateDeployment):
        return await client.update_deployment(
            action.deployment_id,
            version=version,
            number_of_allocations=action.number_of_allocations,
            adaptive_allocations=action.adaptive if action.send_adaptive else UNSET,
        )
    if isinstance(action, UpdateInferenceEndpoint):
        update = action.update
        await client.update_inference_endpoint(
            action.task_type,
            action.inference_id,
            version=version,
            num_allocations=update.number_of_allocations,
            adaptive_allocations=update.adaptive if update.send_adaptive and update.adaptive else UNSET,
        )
        return None
    if isinstance(action, StopDeployment):
        await client.stop_deployment(action.deployment_id, force=action.force)
        return None
    raise TypeError(f"unknown action {action!r}")
