"""The finalizer ``esml.io/stop-deployment``: kept exactly while ``deletionPolicy: Stop``, and honoured on delete.

The operator adds and removes it itself (kopf's deletion handlers would run in
every replica, not just the leader). On deletion the deployment is stopped
(never forced), then the finalizer is released. A deployment that inference
endpoints created or use is left running (the operator never deletes an
endpoint and never force-stops what one needs): a Warning event says so and
the deletion completes. While Elasticsearch cannot be
reached the deletion waits, retried with back-off, and ``Ready`` says so and
names the ways out: ``spec.paused: true`` or the annotation
``esml.io/skip-stop: "true"`` release the finalizer without calling
Elasticsearch.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from esml_operator.controller.actor import Actor
from esml_operator.controller.memory import Entry, Observed, remember, spec_of
from esml_operator.controller.observer import Observer
from esml_operator.controller.writer import StatusWriter
from esml_operator.elasticsearch.errors import ConflictError, ElasticsearchError
from esml_operator.kube.api import KubeApi
from esml_operator.reconcile import (
    ActionFailure,
    Event,
    Failed,
    ModelDeploymentSpec,
    Observation,
    SpecError,
    action_event,
    advise,
    decide_deletion,
    deletion_blocked,
    deletion_notice,
    stop_refused_notice,
)
from esml_operator.settings import Settings

logger = logging.getLogger(__name__)

FINALIZER = "esml.io/stop-deployment"
SKIP_STOP_ANNOTATION = "esml.io/skip-stop"


def _finalizers(entry: Entry) -> list[str]:
    value = entry.meta.get("finalizers")
    return [str(f) for f in value] if isinstance(value, list) else []


class FinalizerKeeper:
    def __init__(self, kube: KubeApi, writer: StatusWriter) -> None:
        self._kube, self._writer = kube, writer

    async def ensure(self, entry: Entry, spec: ModelDeploymentSpec | None) -> None:
        """Add the finalizer for ``deletionPolicy: Stop``, remove it otherwise (an invalid spec changes nothing)."""
        if spec is None:
            return
        finalizers = _finalizers(entry)
        wanted, present = spec.deletion_policy == "Stop", FINALIZER in finalizers
        if wanted == present or not self._writer.leading():
            return
        await self.set(entry, [*finalizers, FINALIZER] if wanted else [f for f in finalizers if f != FINALIZER])

    async def release(self, entry: Entry) -> None:
        await self.set(entry, [f for f in _finalizers(entry) if f != FINALIZER])

    async def set(self, entry: Entry, finalizers: list[str]) -> None:
        meta = entry.meta
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        version = str(meta.get("resourceVersion", ""))
        async with self._writer.fence.send(f"setting finalizers of {namespace}/{name}"):
            await self._kube.set_finalizers(namespace, name, resource_version=version, finalizers=finalizers)


class Deleter:
    def __init__(
        self, settings: Settings, observer: Observer, actor: Actor, writer: StatusWriter, keeper: FinalizerKeeper
    ) -> None:
        self.settings, self.observer, self.actor, self.writer, self.keeper = settings, observer, actor, writer, keeper

    async def run(self, entry: Entry) -> float | None:
        if FINALIZER not in _finalizers(entry) or not self.writer.leading():
            return None
        spec = spec_of(entry)
        parsed = None if isinstance(spec, SpecError) else spec
        skip = self._skip_reason(entry, parsed)
        if skip is not None or parsed is None:
            logger.info("%s: releasing the finalizer without stopping the deployment (%s)", entry.name, skip)
            await self.keeper.release(entry)
            return None
        observed = await self.observer.observe(entry, parsed, fresh=True, fallback=entry.config)
        observation = observed.observation
        conflict = observation.config_problem is not None and observation.config_problem.reason == "DeploymentConflict"
        problem = observation.fetch_error or observation.config_problem
        if problem is None or conflict:
            return await self._stop(entry, parsed, observed)
        # Elasticsearch cannot be used: that counts as a failed stop (config problems wait for the resync).
        failed = None
        if isinstance(problem, ElasticsearchError):
            failed = Failed(ActionFailure("stop", problem, datetime.now(UTC), 1, entry.generation))
        remembered = remember(entry, observed, failed)
        failure = remembered.failure if isinstance(remembered, Failed) else entry.failure
        return await self._blocked(entry, parsed, observation, failure)

    async def _stop(self, entry: Entry, spec: ModelDeploymentSpec, observed: Observed) -> float | None:
        """Stop the deployment unless another resource or an inference endpoint needs it, then release."""
        observation = observed.observation
        notice = deletion_notice(spec, observation)
        actions = decide_deletion(spec, observation) if observation.config_problem is None else ()
        outcome = remember(entry, observed, await self.actor.act(entry, observed, actions[0]) if actions else None)
        if observation.config_problem is not None:
            logger.info("%s: another resource manages the deployment; not stopping it", entry.name)
        elif notice is not None:
            await self._keep_running(entry, notice)
            return None
        elif isinstance(outcome, Failed):
            error = outcome.failure.error
            if isinstance(error, ConflictError) and "inference endpoint" in (error.reason or ""):
                # Ownership was unknown (no monitor_inference): Elasticsearch refused the stop instead.
                await self._keep_running(entry, stop_refused_notice(spec.deployment_id, error.reason))
                return None
            # The stop's own failure is what this pass observed of Elasticsearch.
            blocked = replace(observation, fetch_error=error)
            return await self._blocked(entry, spec, blocked, outcome.failure)
        elif outcome is not None:
            event = action_event(actions[0], None)
            logger.info("%s: %s", entry.name, event.message)
            self.writer.post(entry, [event])
        await self.keeper.release(entry)
        return None

    async def _keep_running(self, entry: Entry, notice: Event) -> None:
        logger.info("%s: %s", entry.name, notice.message)
        self.writer.post(entry, [notice])
        await self.keeper.release(entry)

    def _skip_reason(self, entry: Entry, spec: ModelDeploymentSpec | None) -> str | None:
        annotations = entry.meta.get("annotations") or {}
        if spec is None:
            return "the spec is invalid"
        if spec.deletion_policy != "Stop":
            return f"deletionPolicy is {spec.deletion_policy}"
        if spec.paused:
            return "spec.paused is true"
        if str(annotations.get(SKIP_STOP_ANNOTATION, "")).lower() == "true":
            return f"annotation {SKIP_STOP_ANNOTATION}=true"
        return None

    async def _blocked(
        self, entry: Entry, spec: ModelDeploymentSpec, observation: Observation, failure: ActionFailure | None
    ) -> float:
        now = datetime.now(UTC)
        status = deletion_blocked(entry.stored_status, spec, observation, now, entry.generation)
        await self.writer.write(entry, status, now)
        if failure is None:
            return self.settings.resync_interval
        advice = advise(
            failure.error,
            attempts=failure.attempts,
            action="stop",
            start_policy=spec.start_policy,
            resync_interval=self.settings.resync_interval,
            jitter=entry.jitter,
        )
        return max(advice.delay, self.settings.min_poll_interval)
