"""What the last answer to each page of a repeated read parsed to, by a digest of its bytes.

Every resync interval the operator reads each cluster's ``_stats`` pages again, and on a quiet cluster they
come back byte for byte as before. Decoding and parsing them was most of an idle operator's CPU at 10,000
resources on 100 clusters (and, through the objects it allocates, most of its garbage collections). A page
whose bytes have the digest of the last answer at the same place is not decoded again: its parsed form is
reused. Parsing is a pure function of the bytes, so a reused page is exactly what parsing it again would give;
the parsed form must therefore be immutable (tuples, frozen dataclasses, read-only mappings).

Only the pages of the last complete read are kept: a read that fewer pages answer forgets the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

_T = TypeVar("_T")

#: 128 bits of BLAKE2b: hashing a 150 KB page takes a fraction of what decoding it does, and two different
#: pages with one digest is not a case to plan for.
DIGEST_SIZE = 16


def digest(content: bytes) -> bytes:
    return hashlib.blake2b(content, digest_size=DIGEST_SIZE).digest()


class PageMemo(Generic[_T]):
    """One repeated read's pages (keyed, e.g., by their offset): ``parsed`` within a read, ``done`` after it."""

    def __init__(self) -> None:
        self._last: dict[Hashable, tuple[bytes, _T]] = {}
        self._read: dict[Hashable, tuple[bytes, _T]] = {}
        self.reused = 0  # pages not parsed again since this memo was made

    def parsed(self, key: Hashable, content: bytes, parse: Callable[[bytes], _T]) -> _T:
        """``parse(content)``, or what it gave last time if ``content`` is the same as the last answer at ``key``.
        An exception from ``parse`` propagates and nothing is remembered of this answer."""
        seen = digest(content)
        last = self._last.get(key)
        if last is not None and last[0] == seen:
            self.reused += 1
            value = last[1]
        else:
            value = parse(content)
        self._read[key] = (seen, value)
        return value

    def done(self) -> None:
        """The read is complete: its pages replace the last read's (a page not asked for this time is dropped)."""
        self._last, self._read = self._read, {}

    def abandon(self) -> None:
        """The read failed part way: keep the last complete read's pages, forget this one's."""
        self._read = {}
