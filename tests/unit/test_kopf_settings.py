"""kopf is configured to watch only: no change detection, no kopf-posted events, no kopf writes.

The operator registers ``on.event`` handlers and nothing that needs kopf's diff of an object's
"essence" (``on.create``/``on.update``/``on.resume``, daemons, timers). So the diff-base storage is a
no-op: kopf would otherwise deep-copy every watch event's body for a diff that no handler reads.
If a changing or spawning handler is ever added, the first test fails and says why.
"""

from __future__ import annotations

import kopf

from esml_operator.manager.registration import NoDiffBase, build_registry, configure_kopf
from esml_operator.settings import Settings

BODY = kopf.Body(
    {
        "apiVersion": "esml.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": "ner", "namespace": "team-a", "annotations": {"a": "b"}},
        "spec": {"modelId": "m", "numberOfAllocations": 2},
        "status": {"conditions": [{"type": "Ready"}]},
    }
)


def test_only_event_handlers_are_registered_so_no_handler_needs_a_diff() -> None:
    registry = build_registry(Settings(all_namespaces=True, leader_election=False))
    assert registry._watching.get_all_handlers(), "the on.event handler"
    assert not registry._changing.get_all_handlers(), "a changing handler needs kopf's diff base: drop NoDiffBase"
    assert not registry._spawning.get_all_handlers(), "daemons and timers reset on diffs: drop NoDiffBase"


def test_configure_kopf_turns_off_diff_bases_and_kopf_events() -> None:
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    assert isinstance(settings.persistence.diffbase_storage, NoDiffBase)
    assert settings.posting.enabled is False
    assert settings.peering.standalone is True


def test_the_no_op_diff_base_builds_nothing_and_writes_nothing() -> None:
    storage = NoDiffBase()
    patch = kopf.Patch()
    assert storage.build(body=BODY) is None
    assert storage.fetch(body=BODY) is None
    storage.store(body=BODY, patch=patch, essence=None)
    assert not patch
