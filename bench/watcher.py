"""A bare watch client (its own process): the floor for watch delivery, and a log of every ModelDeployment write.

``python -m bench.watcher --server URL --ca CA --cert CERT --key KEY --out FILE``
watches ModelDeployments in every namespace and appends one JSON line per event:
``t`` (wall clock when the line arrived, before any parsing), ``type``,
``ns``, ``name``, ``rv``, ``gen`` and ``replicas`` (spec.numberOfAllocations).
It writes ``FILE.ready`` once the API server has accepted the watch.
"""

from __future__ import annotations

import argparse
import json
import signal
import ssl
import sys
import time
from pathlib import Path
from typing import Any

import httpx

PATH = "/apis/esml.io/v1alpha1/modeldeployments"


def _fields(t: float, raw: bytes) -> dict[str, Any] | None:
    event = json.loads(raw)
    obj = event.get("object") or {}
    meta = obj.get("metadata") or {}
    if event.get("type") == "BOOKMARK":
        return None
    return {
        "t": t,
        "type": event.get("type"),
        "ns": meta.get("namespace"),
        "name": meta.get("name"),
        "rv": meta.get("resourceVersion"),
        "gen": meta.get("generation"),
        "replicas": (obj.get("spec") or {}).get("numberOfAllocations"),
    }


def watch(client: httpx.Client, out: Any, ready: Path) -> None:
    resource_version = ""
    while True:  # not a wait: the watch client's main loop, reopening its watch (tests/repo/test_poll_loops.py)
        params = {"watch": "true", "timeoutSeconds": "3600"}
        if resource_version:
            params["resourceVersion"] = resource_version
        with client.stream("GET", PATH, params=params) as response:
            if response.status_code == 429 or response.status_code >= 500:  # e.g. a CRD's storage still starting
                time.sleep(0.2)
                continue
            response.raise_for_status()
            ready.touch()
            for line in response.iter_lines():
                t = time.time()
                if not line:
                    continue
                fields = _fields(t, line.encode())
                if fields is None:
                    continue
                if fields["type"] == "ERROR":  # e.g. 410 Gone: start over from the current state
                    resource_version = ""
                    break
                resource_version = fields["rv"] or resource_version
                out.write(json.dumps(fields) + "\n")
                out.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.watcher")
    for name in ("server", "ca", "cert", "key", "out"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ctx = ssl.create_default_context(cafile=args.ca)
    ctx.load_cert_chain(args.cert, args.key)
    out_path = Path(args.out)
    with (
        httpx.Client(base_url=args.server, verify=ctx, timeout=httpx.Timeout(10, read=None)) as client,
        out_path.open("a") as out,
    ):
        watch(client, out, out_path.with_suffix(".ready"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
