"""Deletion with ``deletionPolicy: Stop``: stop the deployment, then let kopf release the finalizer."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf

from esml_operator.handlers import connect
from esml_operator.handlers.actions import apply_action
from esml_operator.handlers.runtime import Runtime
from esml_operator.reconcile import (
    ConfigProblem,
    Observation,
    SpecError,
    action_event,
    decide_deletion,
    parse_spec,
)

logger = logging.getLogger(__name__)


async def finalize(runtime: Runtime, body: Mapping[str, Any]) -> None:
    meta = body.get("metadata", {})
    namespace, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")
    spec = body.get("spec") or {}
    try:
        parsed = parse_spec(spec)
    except SpecError:
        logger.warning("%s/%s: invalid spec at deletion; nothing to stop", namespace, name)
        return
    entry = runtime.entries.get(uid)
    resolved = await connect.resolve(parsed, namespace, runtime.kube, runtime.settings, fresh=True)
    if isinstance(resolved, ConfigProblem):
        if entry is None or entry.config is None:
            raise kopf.TemporaryError(
                f"cannot stop deployment [{parsed.deployment_id}]: {resolved.message}",
                delay=runtime.settings.resync_interval,
            )
        # The Secret may be gone already (namespace deletion): the last working connection still stops it.
        config = entry.config
    else:
        config = resolved.config
    client, info = await runtime.pool.connect(config, owner=uid)
    taken = await runtime.snapshots.get(config.key, client.stats_snapshot, newer_than=time.monotonic())
    observation = Observation(
        cluster=info, snapshot=taken.snapshot, snapshot_at=taken.at, fetch_error=None, config_problem=None,
        last_assignment=None, last_failure=None, selector="",
    )  # fmt: skip
    for action in decide_deletion(spec, observation):
        await apply_action(client, info.version, action)  # ElasticsearchError goes to kopf via the handler
        event = action_event(action, None)
        logger.info("%s/%s: %s", namespace, name, event.message)
        await runtime.kube.post_event(body, type=event.type, reason=event.reason, message=event.message)
