"""``python -m bench.bodymem OBJECT.json``: bytes the operator's registry keeps per resource, whole bodies vs
trimmed (``controller/memory.py``'s ``trimmed``), for 1,000 copies of one object as the API server returns it.

Get the object with ``kubectl get modeldeployment NAME -o json --show-managed-fields`` (a watch event carries the
managed fields). Each copy gets its own name, uid and resourceVersion, is decoded from JSON as kopf's watch
stream decodes it and handed to ``Registry.observe`` as ``manager/registration.py`` hands it on; the figure is
what tracemalloc still counts once the decoded bodies are dropped, over 1,000 (the ``Entry`` objects included).
"""

from __future__ import annotations

import gc
import json
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from esml_operator.controller import registry
from esml_operator.controller.memory import trimmed

COPIES = 1000


def copies(template: dict[str, Any]) -> list[str]:
    out = []
    for i in range(COPIES):
        body = json.loads(json.dumps(template))
        meta = body["metadata"]
        meta["name"], meta["uid"], meta["resourceVersion"] = f"m{i:04d}", f"uid-{i:08d}", str(100000 + i)
        out.append(json.dumps(body))
    return out


def kept_per_resource(texts: list[str], trim: Callable[[Any], dict[str, Any]]) -> float:
    registry.trimmed = trim  # type: ignore[assignment]
    gc.collect()
    tracemalloc.start()
    try:
        known = registry.Registry()
        for text in texts:
            known.observe(dict(json.loads(text)))
        gc.collect()
        return tracemalloc.get_traced_memory()[0] / len(texts)
    finally:
        tracemalloc.stop()
        registry.trimmed = trimmed


def main(path: str) -> None:
    template = json.loads(Path(path).read_text(encoding="utf-8"))
    texts = copies(template)
    whole, kept = kept_per_resource(texts, dict), kept_per_resource(texts, trimmed)
    print(f"{len(json.dumps(template))} bytes of JSON; kept per resource: whole {whole:.0f} B, trimmed {kept:.0f} B")


if __name__ == "__main__":
    main(sys.argv[1])
