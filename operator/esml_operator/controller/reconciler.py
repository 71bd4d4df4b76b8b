"""One pass over one resource: observe, decide (pure), act (at most once), settle (pure), report.

Deletion with ``deletionPolicy: Stop`` goes through the same objects (see
:mod:`.deleter`), so both run under the work queue's one-pass-per-resource
rule with the resource's real memory (its last ``_start``/``_update`` answer).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from esml_operator.controller import logcontext, timing
from esml_operator.controller.actor import Actor
from esml_operator.controller.deleter import Deleter, FinalizerKeeper
from esml_operator.controller.fence import Deposed
from esml_operator.controller.memory import Entry, ended, generation_of, remember, spec_of
from esml_operator.controller.observer import Observer
from esml_operator.controller.quiet import QuietCheck, mark
from esml_operator.controller.recorder import NoRecorder, PassRecorder
from esml_operator.controller.workqueue import preempted, preemptible
from esml_operator.controller.writer import StatusWriter
from esml_operator.kube import errors as kube_errors
from esml_operator.reconcile import ModelDeploymentSpec, ResourceRef, SpecError, Succeeded, decide, settle
from esml_operator.settings import Settings

logger = logging.getLogger(__name__)

#: Outcomes of a pass (the ``outcome`` label of ``esml_reconcile_passes_total``); besides these,
#: ``error`` (the pass raised), ``cancelled`` (leadership was lost during the pass) and ``preempted`` (a newer
#: change of the resource cancelled the pass while it waited for a poll; the next pass runs at once).
PASS_NO_ACTION = "no_action"  # nothing to send to Elasticsearch (in sync, waiting, or a problem to report)
PASS_ACTED = "action_succeeded"
PASS_ACTION_FAILED = "action_failed"
PASS_NOT_LEADING = "not_leading"  # leadership was lost before a write was sent, or the fence cut one off
PASS_DELETION = "deletion"  # the resource is being deleted
PASS_UNCHANGED = "unchanged"  # a resync pass that found what the last quiet pass found (controller/quiet.py)

#: Seconds (drawn at random, so a busy API server's resources come back spread out) before a pass whose write the
#: API server did not answer, or refused with a 5xx or 429, runs again; other failures wait for the resync.
KUBE_RETRY = (2.0, 10.0)


class Reconciler:
    def __init__(
        self,
        settings: Settings,
        observer: Observer,
        actor: Actor,
        writer: StatusWriter,
        finalizers: FinalizerKeeper,
        deleter: Deleter,
        *,
        recorder: PassRecorder | None = None,
        autoscalers: Callable[[str, str], Awaitable[tuple[str, ...]]] | None = None,
        quiet: QuietCheck | None = None,
    ) -> None:
        """``autoscalers(namespace, name)``: the HPAs that target a resource (None: not looked up). ``quiet``:
        lets a resync pass that finds nothing changed end early (None: every pass is a full one)."""
        self.settings, self.observer, self.actor, self.writer = settings, observer, actor, writer
        self.finalizers, self.deleter = finalizers, deleter
        self.recorder, self.autoscalers, self.quiet = recorder or NoRecorder(), autoscalers, quiet

    async def run(self, entry: Entry) -> float | None:
        """Reconcile ``entry`` once; seconds until it wants another pass (``None``: the resync will do).

        Every log line of the pass carries the resource and, once known, its cluster (:mod:`.logcontext`);
        the recorder is told the pass's outcome and duration.
        """
        logcontext.bind_resource(entry.name)
        logcontext.bind_cluster(entry.config.endpoint if entry.config is not None else None)
        started, outcome = time.monotonic(), "error"
        try:
            requeue, outcome = await self._run(entry)
            return requeue
        except Deposed as stopped:  # leadership ended before a write, or during one (cut off at the deadline)
            logger.info("%s: the pass stopped: %s", entry.name, stopped)
            outcome = PASS_NOT_LEADING
            return None
        except (kube_errors.Timeout, kube_errors.Unavailable) as error:  # an API server too busy to answer
            delay = random.uniform(*KUBE_RETRY)
            logger.warning("%s: %s; the pass runs again in %.0f s", entry.name, error, delay)
            return delay
        except asyncio.CancelledError:
            outcome = "preempted" if preempted() else "cancelled"
            raise
        finally:
            self.recorder.observe_pass(outcome, time.monotonic() - started)
            timing.outcome(outcome)

    async def resync(self, entry: Entry) -> bool:
        """A resync round's check of a resource outside the work queue (:mod:`.sweep`): True when nothing its last
        quiet pass saw has changed (recorded as an ``unchanged`` pass); False when it needs a pass."""
        spec = spec_of(entry)
        if entry.meta.get("deletionTimestamp") or isinstance(spec, SpecError):
            return False
        started = time.monotonic()
        if not await self._unchanged(entry, spec):
            return False
        self.recorder.observe_pass(PASS_UNCHANGED, time.monotonic() - started)
        return True

    async def _unchanged(self, entry: Entry, spec: ModelDeploymentSpec) -> bool:
        """Whether this pass may end now: its resource was quiet and nothing it saw has changed."""
        return (
            self.quiet is not None
            and entry.quiet is not None
            and await self.quiet.unchanged(entry, spec, datetime.now(UTC))
        )

    async def _write_unless_superseded(
        self, entry: Entry, status: Mapping[str, Any], now: datetime, superseded: Callable[[], bool]
    ) -> bool:
        """Write ``status``; False when a newer spec came during the write and cancelled it (the pass still ends
        with what it did: the status is the newer pass's to write)."""
        try:
            with preemptible(when=superseded):
                await self.writer.write(entry, status, now)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not preempted() or task is None:
                raise
            task.uncancel()  # our own preemption, taken here: the pass ends normally
            logger.debug("%s: a newer spec came during the status write, which was cancelled", entry.name)
            return False
        return True

    async def _run(self, entry: Entry) -> tuple[float | None, str]:
        if entry.meta.get("deletionTimestamp"):
            ended(entry, None)
            return await self.deleter.run(entry), PASS_DELETION
        # One version of the resource for the whole pass: the watch may replace entry.body during an await,
        # and a newer generation must never be reported with this version's spec.
        body = entry.body
        meta = body.get("metadata") or {}
        generation = generation_of(body)
        spec = spec_of(entry, body)
        valid = None if isinstance(spec, SpecError) else spec
        if valid is not None and await self._unchanged(entry, valid):
            return None, PASS_UNCHANGED
        ended(entry, None)  # a full pass: until it ends quietly, the next one is full as well
        with timing.stage("finalizer"):
            await self.finalizers.ensure(entry, valid)
        observed = await self.observer.observe(entry, valid)
        ref = ResourceRef(str(meta.get("namespace", "")), str(meta.get("name", "")), generation, entry.uid)
        observation = observed.observation
        if self.autoscalers is not None:
            with timing.stage("autoscalers"):
                observation = replace(observation, autoscalers=await self.autoscalers(ref.namespace, ref.name))
        now = datetime.now(UTC)
        decision = decide(
            spec,
            ref,
            observation,
            entry.stored_status,
            now,
            resync_interval=self.settings.resync_interval,
            jitter=entry.jitter,
        )
        action = decision.actions[0] if decision.actions else None
        leading = action is None or self.writer.leading()
        outcome = await self.actor.act(entry, observed, action) if action is not None and leading else None
        outcome = remember(entry, observed, outcome, decided=generation)
        if not leading:
            return None, PASS_NOT_LEADING
        result = PASS_NO_ACTION
        if outcome is not None:
            decision = settle(decision, outcome, datetime.now(UTC), follow_up=self.settings.min_poll_interval)
            if isinstance(outcome, Succeeded):
                logger.info("%s: %s", entry.name, decision.events[-1].message)
            result = PASS_ACTED if isinstance(outcome, Succeeded) else PASS_ACTION_FAILED
        with timing.stage("status"):
            # A newer spec's pass, queued right behind this one, writes the status: this generation's is moot,
            # not written when the newer spec came first, and cancelled when it comes during the write.
            def superseded() -> bool:
                return generation_of(entry.body) != generation

            if superseded():
                logger.debug("%s: status of generation %s superseded, not written", entry.name, generation)
            elif not await self._write_unless_superseded(entry, decision.status, now, superseded):
                self.writer.post(entry, decision.events)  # what this pass did is still said
                return decision.requeue_after, result  # the newer spec's pass runs at once
        self.writer.post(entry, decision.events)  # queued: posted after the pass (controller/poster.py)
        if valid is not None:
            version, requeue = (str(meta.get("resourceVersion", "")), generation), decision.requeue_after
            acted = outcome is not None
            ended(entry, mark(version, observed, decision.status, acted=acted, requeue=requeue, id=valid.deployment_id))
        return decision.requeue_after, result
