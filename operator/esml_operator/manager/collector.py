"""How the operator sets Python's cyclic garbage collector, once, at start-up.

At thousands of resources the operator holds a few hundred thousand long-lived objects (the resources' bodies
and what it remembers of them), and every resync round makes short-lived ones by the hundred thousand (parsed
polls, passes). With Python's default thresholds (700, 10, 10) a round at 10,000 resources ran about 880 young
and 3 to 4 full collections, which took a third of its CPU (measured in process: 1.5 to 2 s of a 4.6 s round).
Collecting the youngest generation every 50,000 allocations instead of 700 leaves about 10 young collections
per round and makes full ones rare; the garbage waiting for a collection stays a few megabytes. The objects
made while importing (modules, classes, functions) never become garbage and are moved out of the collector's
sight (``gc.freeze``), so full collections do not walk them.
"""

from __future__ import annotations

import gc
from typing import Final

#: (young, middle, old): allocations before a young collection, young collections before a middle one, middle
#: collections before a full one (the full one also waits until a quarter of the long-lived objects are new).
THRESHOLDS: Final = (50_000, 20, 10)


def tune() -> None:
    """Apply :data:`THRESHOLDS` and freeze what exists now (call it after the imports, before the work)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
