"""Which resource manages a deployment when two name it on the same cluster (the pure claim index)."""

from __future__ import annotations

from esml_operator.reconcile import Claimant, ClaimIndex

KEY = ("uuid:abc", "dep")
OTHER = ("uuid:abc", "other-dep")


def claimant(name: str, created: str, *, in_conflict: bool = False, deleting: bool = False) -> Claimant:
    return Claimant(uid=f"uid-{name}", created=created, reported_in_conflict=in_conflict, deleting=deleting)


def test_the_older_resource_holds_the_deployment() -> None:
    index = ClaimIndex()
    old, new = claimant("old", "2026-11-25T10:00:00Z"), claimant("new", "2026-11-25T10:00:05Z")
    assert index.claim(KEY, new) is None  # alone so far
    assert index.claim(KEY, old) is None  # older: it holds it
    assert index.claim(KEY, new) == old.uid


def test_same_second_the_first_claimant_wins_whatever_the_uids() -> None:
    # uid order would pick "a" first; claim order must win.
    index = ClaimIndex()
    b, a = claimant("b", "2026-11-25T10:00:00Z"), claimant("a", "2026-11-25T10:00:00Z")
    assert index.claim(KEY, b) is None
    assert index.claim(KEY, a) == b.uid
    assert index.claim(KEY, b) is None  # re-claiming the same keeps its place


def test_after_a_restart_the_one_reported_in_conflict_stays_out() -> None:
    index = ClaimIndex()
    loser = claimant("loser", "2026-11-25T10:00:00Z", in_conflict=True)
    holder = claimant("holder", "2026-11-25T10:00:00Z")
    assert index.claim(KEY, loser) is None  # it claims first in this new process ...
    assert index.claim(KEY, holder) is None  # ... but the previous holder keeps the deployment
    assert index.claim(KEY, loser) == holder.uid


def test_a_resource_being_deleted_gives_way() -> None:
    index = ClaimIndex()
    old, new = claimant("old", "2026-11-25T10:00:00Z"), claimant("new", "2026-11-25T10:00:05Z")
    index.claim(KEY, old)
    assert index.claim(KEY, new) == old.uid
    index.claim(KEY, claimant("old", "2026-11-25T10:00:00Z", deleting=True))
    assert index.claim(KEY, new) is None


def test_release_names_the_resources_that_may_take_over() -> None:
    index = ClaimIndex()
    old, new = claimant("old", "2026-11-25T10:00:00Z"), claimant("new", "2026-11-25T10:00:05Z")
    index.claim(KEY, old)
    index.claim(KEY, new)
    assert index.release(old.uid) == [new.uid]
    assert index.claim(KEY, new) is None
    assert index.release("uid-unknown") == []


def test_moving_to_another_deployment_frees_the_first() -> None:
    index = ClaimIndex()
    old, new = claimant("old", "2026-11-25T10:00:00Z"), claimant("new", "2026-11-25T10:00:05Z")
    index.claim(KEY, old)
    index.claim(OTHER, old)
    assert index.key_of(old.uid) == OTHER
    assert index.claim(KEY, new) is None


def test_claims_on_other_keys_are_not_scanned() -> None:
    index = ClaimIndex()
    for n in range(2000):
        index.claim(("uuid:abc", f"dep-{n}"), claimant(f"r{n}", "2026-11-25T10:00:00Z"))
    assert len(index._by_key[("uuid:abc", "dep-7")]) == 1  # one member per key: claim() is O(1) here
