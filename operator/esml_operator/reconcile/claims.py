"""Which resource manages a deployment when several name it on one cluster.

An index keyed by (cluster, deployment id): claiming, releasing and finding
the holder cost O(claimants of that key), never a scan of every resource.

The oldest resource wins, so the answer is the same whichever reconciles
first, and after an operator restart. Creation time has second precision: on
a tie, the resource that was not reported in conflict (it held the
deployment before a restart) wins, then the one that claimed first in this
process. A resource being deleted gives way at once.
"""

from __future__ import annotations

from dataclasses import dataclass

ClaimKey = tuple[str, str]  # (cluster identity, deployment id)


@dataclass(frozen=True)
class Claimant:
    uid: str
    created: str  # metadata.creationTimestamp (RFC 3339, so text order is time order)
    reported_in_conflict: bool  # its stored status says DeploymentConflict
    deleting: bool


class ClaimIndex:
    def __init__(self) -> None:
        self._by_key: dict[ClaimKey, dict[str, tuple[Claimant, int]]] = {}
        self._key_of: dict[str, ClaimKey] = {}
        self._order = 0

    def claim(self, key: ClaimKey, claimant: Claimant) -> str | None:
        """Record that ``claimant`` manages ``key``; the uid of the other resource holding it, if any."""
        previous = self._key_of.get(claimant.uid)
        if previous is not None and previous != key:
            self.release(claimant.uid)
        members = self._by_key.setdefault(key, {})
        order = members[claimant.uid][1] if claimant.uid in members else self._next()
        members[claimant.uid] = (claimant, order)
        self._key_of[claimant.uid] = key
        holder = self.holder(key)
        return None if holder in (None, claimant.uid) else holder

    def holder(self, key: ClaimKey) -> str | None:
        live = [(c, order) for c, order in self._by_key.get(key, {}).values() if not c.deleting]
        if not live:
            return None
        best = min(live, key=lambda item: (item[0].created, item[0].reported_in_conflict, item[1], item[0].uid))
        return best[0].uid

    def release(self, uid: str) -> list[str]:
        """Forget ``uid``'s claim; the uids still claiming the same key (one of them may take over now)."""
        key = self._key_of.pop(uid, None)
        if key is None:
            return []
        members = self._by_key.get(key, {})
        members.pop(uid, None)
        if not members:
            self._by_key.pop(key, None)
        return list(members)

    def key_of(self, uid: str) -> ClaimKey | None:
        return self._key_of.get(uid)

    def _next(self) -> int:
        self._order += 1
        return self._order
