"""The cyclic garbage collector at start-up: what exists after the imports is frozen out of its sight.

The objects made while importing (modules, classes, functions: about a hundred thousand with kopf, the Kubernetes
client and httpx) never become garbage, yet every full collection walks them. ``gc.freeze`` moves them to a
permanent generation, so full collections walk only what the operator made since. The thresholds stay Python's:
raising the young one to 50,000 made resync rounds at 10,000 resources cheaper, but raised the peak RSS at 2,000
resources from 195 to 225 MB (garbage cycles wait longer for a collection), and the resync sweep already makes
rounds allocate little (``make bench`` figures 2 and 7; the session notes have the runs).
"""

from __future__ import annotations

import gc


def tune() -> None:
    """Collect once, then freeze what exists now (call it after the imports, before the work)."""
    gc.collect()
    gc.freeze()
