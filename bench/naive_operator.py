"""The baseline: a minimal, naive kopf operator that polls Elasticsearch once per resource per interval.

``kopf run --standalone bench/naive_operator.py --namespace ...`` with
``BENCH_NAIVE_INTERVAL`` (seconds) and ``BENCH_NAIVE_CLUSTERS`` (a JSON file
mapping each Elasticsearch URL to ``{"ca": path, "api_key": encoded}``) in the
environment. For every ModelDeployment it keeps one timer that GETs
``_ml/trained_models/<deploymentId>/_stats``: N requests per interval for N
resources, which is what a controller that reconciles each object on its own
schedule costs. It writes nothing to Kubernetes (``on.event`` keeps no state,
so kopf adds no finalizer and no annotation), so its API writes are zero.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
from pathlib import Path
from typing import Any

import httpx
import kopf

INTERVAL = float(os.environ.get("BENCH_NAIVE_INTERVAL", "10"))
CLUSTERS: dict[str, dict[str, str]] = json.loads(Path(os.environ.get("BENCH_NAIVE_CLUSTERS", "/dev/null")).read_text())
clients: dict[str, httpx.AsyncClient] = {}
timers: dict[str, asyncio.Task[None]] = {}


def client_for(url: str) -> httpx.AsyncClient:
    if url not in clients:
        cluster = CLUSTERS[url]
        clients[url] = httpx.AsyncClient(
            base_url=url,
            verify=ssl.create_default_context(cafile=cluster["ca"]),
            headers={"Authorization": f"ApiKey {cluster['api_key']}"},
            timeout=30,
        )
    return clients[url]


async def poll(url: str, deployment: str) -> None:
    client = client_for(url)
    while True:  # not a wait: polling forever is the baseline this operator measures (tests/repo/test_poll_loops.py)
        with contextlib.suppress(httpx.HTTPError):
            await client.get(f"/_ml/trained_models/{deployment}/_stats")
        await asyncio.sleep(INTERVAL)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = False


@kopf.on.event("esml.io", "v1alpha1", "modeldeployments")
async def on_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    uid = str(body.metadata.uid)
    if type == "DELETED":
        task = timers.pop(uid, None)
        if task is not None:
            task.cancel()
        return
    if uid not in timers:
        spec = body.get("spec", {})
        url = spec["elasticsearch"]["url"]
        timers[uid] = asyncio.create_task(poll(url, spec.get("deploymentId") or spec["modelId"]))
