"""``python -m bench.kubecalls KUBECONFIG``: the operator's CPU per 1,000 status patches and Event POSTs, with the
replies decoded into ``kubernetes.aio`` models (as before) and read as bytes only (``kube/api.py`` now).

Against a real API server (``make cluster-up``; the ModelDeployment CRD installed): 50 ModelDeployments in the
namespace ``bench-kubecalls``, patched round-robin (a status of three conditions), or Events posted about them.
Each measurement is a fresh process (``--one``); its figure is its own ``getrusage`` user+sys over ``--calls``
calls at ``--concurrency``, after 30 warm-up calls. The two variants alternate, so a loaded machine loads both
alike; only CPU-seconds are reported, never wall time. Method and figures: docs/reference/kubernetes-client.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from esml_operator.kube import api as kube_api
from esml_operator.kube import errors
from esml_operator.kube.api import GROUP, PLURAL, VERSION, KubernetesApi
from esml_operator.kube.config import load_api_client
from esml_operator.settings import Settings

NAMESPACE, OBJECTS, WARM_UP = "bench-kubecalls", 50, 30
CALLS = ("status", "event")
VARIANTS = ("decoded", "undecoded")


def status(n: int) -> dict[str, Any]:
    conditions = [
        {
            "type": kind,
            "status": "True",
            "reason": "Bench",
            "message": f"call {n}",
            "lastTransitionTime": "2026-12-07T04:00:00Z",
        }
        for kind in ("Ready", "Progressing", "Stalled")
    ]
    return {"observedGeneration": 1, "allocations": n % 7, "conditions": conditions}


def decoding(kube: KubernetesApi) -> None:
    """Make ``kube`` take the path the operator took before: the methods that decode their reply, then :func:`call`."""
    custom, core = kube._custom, kube._core
    custom.patch_namespaced_custom_object_status_without_preload_content = custom.patch_namespaced_custom_object_status
    core.create_namespaced_event_without_preload_content = core.create_namespaced_event
    kube_api.discard = errors.call


async def prepare(kubeconfig: str) -> None:
    from kubernetes.aio import client

    api_client = await load_api_client(Settings(namespaces=(NAMESPACE,), kubeconfig=kubeconfig))
    try:
        core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
        names = {item.metadata.name for item in (await core.list_namespace()).items}
        if NAMESPACE not in names:
            await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        existing = await custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)
        have = {item["metadata"]["name"] for item in existing["items"]}
        for i in range(OBJECTS):
            if f"m{i}" not in have:
                spec = {"modelId": "m", "deploymentId": f"m{i}", "elasticsearch": {"url": "https://es:9200"}}
                body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ModelDeployment", "metadata": {"name": f"m{i}"}}
                await custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, {**body, "spec": spec})
    finally:
        await api_client.close()


async def one(kubeconfig: str, what: str, variant: str, calls: int, concurrency: int) -> float:
    """CPU-seconds of this process for ``calls`` calls (after the warm-up)."""
    kube = KubernetesApi(await load_api_client(Settings(namespaces=(NAMESPACE,), kubeconfig=kubeconfig)), secret_ttl=60)
    if variant == "decoded":
        decoding(kube)

    def call(n: int) -> Awaitable[None]:
        name = f"m{n % OBJECTS}"
        if what == "status":
            return kube.patch_status(NAMESPACE, name, status(n))
        body = {"metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}", "resourceVersion": "1"}}
        return kube.post_event(body, type="Normal", reason="Bench", message=f"call {n}")

    try:
        await run(call, WARM_UP, concurrency)
        before = resource.getrusage(resource.RUSAGE_SELF)
        await run(call, calls, concurrency)
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        await kube.aclose()
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


async def run(call: Callable[[int], Awaitable[None]], calls: int, concurrency: int) -> None:
    pending = iter(range(calls))

    async def worker() -> None:
        for n in pending:
            await call(n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kubecalls", description=__doc__.split("\n\n")[0])
    parser.add_argument("kubeconfig")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per call and variant")
    parser.add_argument("--one", nargs=2, metavar=("CALL", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        what, variant = args.one
        print(json.dumps(asyncio.run(one(args.kubeconfig, what, variant, args.calls, args.concurrency))))
        return
    asyncio.run(prepare(args.kubeconfig))
    cpu: dict[tuple[str, str], list[float]] = {(w, v): [] for w in CALLS for v in VARIANTS}
    for _ in range(args.runs):
        for what in CALLS:
            for variant in VARIANTS:
                argv_one = [args.kubeconfig, "--calls", str(args.calls), "--concurrency", str(args.concurrency)]
                command = [sys.executable, "-m", "bench.kubecalls", *argv_one, "--one", what, variant]
                out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
                cpu[what, variant].append(float(out.strip().splitlines()[-1]) * 1000 / args.calls)
    for what in CALLS:
        decoded, undecoded = (statistics.mean(cpu[what, v]) for v in VARIANTS)
        runs = ", ".join(f"{v} " + " ".join(f"{c:.2f}" for c in cpu[what, v]) for v in VARIANTS)
        print(
            f"{what}: CPU-s per 1,000 calls at concurrency {args.concurrency}: decoded {decoded:.2f}, "
            f"undecoded {undecoded:.2f} ({undecoded / decoded - 1:+.0%}); runs: {runs}"
        )


if __name__ == "__main__":
    main()
