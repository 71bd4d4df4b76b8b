"""Endpoint-owned deployments through the real runtime objects (in-memory Kubernetes and Elasticsearch):
one endpoint listing per poll, the inference ``_update`` on 9.2, graceful degradation without
``monitor_inference``, and deletion that leaves an endpoint's deployment running."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.unit.runtime_fakes import MODEL, FakeES, FakeKube, deleting, operator_for, resource, until

URL = "https://es-a:9200"


class EndpointES(FakeES):
    """FakeES plus endpoints that own deployments, with Elasticsearch 9.2's rules for them."""

    def __init__(self, *, forbid_listing: bool = False) -> None:
        super().__init__()
        self.forbid_listing = forbid_listing
        self.statuses: list[tuple[str, int]] = []

    def own(self, inference_id: str, allocations: int) -> None:
        """An endpoint created with PUT _inference: it started a deployment named after itself."""
        self.deployments[inference_id] = {"number_of_allocations": allocations}
        self.endpoints.append(
            {
                "inference_id": inference_id,
                "task_type": "sparse_embedding",
                "service": "elasticsearch",
                "service_settings": {"num_allocations": allocations, "num_threads": 1, "model_id": MODEL},
            }
        )

    def owned(self, deployment: str) -> bool:
        return any(e["inference_id"] == deployment for e in self.endpoints)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        response = await self._route(request)
        self.statuses.append((f"{request.method} {request.url.path}", response.status_code))
        return response

    async def _route(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        parts = path.split("/")
        if path == "/_inference/_all" and self.forbid_listing:
            self.calls.append(f"{method} {path}")
            return self._error(
                403, "security_exception", "action [cluster:monitor/xpack/inference/get] is unauthorized"
            )
        if method == "PUT" and path.startswith("/_inference/") and path.endswith("/_update"):
            self.calls.append(f"{method} {path}")
            inference_id = parts[3]
            settings = json.loads(request.content)["service_settings"]
            self.deployments[inference_id]["number_of_allocations"] = settings["num_allocations"]
            endpoint = next(e for e in self.endpoints if e["inference_id"] == inference_id)
            endpoint["service_settings"]["num_allocations"] = settings["num_allocations"]
            return self._json(endpoint)
        if path.endswith("/deployment/_update") and self.owned(parts[3]):
            self.calls.append(f"{method} {path}")
            return self._error(
                409,
                "status_exception",
                f"Cannot update deployment [{parts[3]}] as it was created by "
                f"inference endpoint [{parts[3]}]. This model deployment must be updated through the "
                "inference API.",
            )
        if path.endswith("/deployment/_stop") and self.owned(parts[3]):
            self.calls.append(f"{method} {path}")
            return self._error(
                409,
                "status_exception",
                f"Cannot stop deployment [{parts[3]}] as it was created by inference endpoint [{parts[3]}]",
            )
        return await super().handle(request)

    def _error(self, status: int, kind: str, reason: str) -> httpx.Response:
        return self._json({"error": {"type": kind, "reason": reason}, "status": status}, status)


def _ready(kube: FakeKube, name: str) -> dict[str, Any] | None:
    patches = [status for who, status in kube.patches if who == name]
    conditions = {c["type"]: c for c in patches[-1].get("conditions", [])} if patches else {}
    ready = conditions.get("Ready")
    return patches[-1] if ready and ready["status"] == "True" else None


def _bump(body: dict[str, Any], **spec: Any) -> dict[str, Any]:
    meta = {**body["metadata"], "generation": body["metadata"]["generation"] + 1}
    return {**body, "metadata": meta, "spec": {**body["spec"], **spec}}


async def test_an_endpoints_deployment_is_scaled_through_the_endpoint_and_never_gets_a_409() -> None:
    es, kube = EndpointES(), FakeKube()
    es.own("my-elser", 1)
    op = operator_for({URL: es}, kube)
    body = resource("my-elser", URL, numberOfAllocations=1)
    op.runtime.observe("ADDED", body)
    status = await _until_ready(kube, "my-elser")
    assert status["inferenceEndpoint"] == {"id": "my-elser", "taskType": "sparse_embedding", "service": "elasticsearch"}
    for count in (3, 2):
        body = _bump(body, numberOfAllocations=count)
        op.runtime.observe("MODIFIED", body)
        await until(lambda c=count: es.deployments["my-elser"]["number_of_allocations"] == c, what=f"{count}")
    assert es.count("PUT /_inference/sparse_embedding/my-elser/_update") == 2
    assert es.count("/deployment/_update") == 0 and es.count("_start") == 0
    assert not [call for call, status in es.statuses if status == 409]
    await op.close()


async def test_at_most_one_endpoint_listing_per_poll_however_many_resources() -> None:
    es, kube = EndpointES(), FakeKube()
    es.own("my-elser", 1)
    op = operator_for({URL: es}, kube, min_poll_interval=0.5)
    op.runtime.observe("ADDED", resource("my-elser", URL, numberOfAllocations=1))
    for n in range(20):
        op.runtime.observe("ADDED", resource(f"ner-{n}", URL, numberOfAllocations=1))
    await until(lambda: all(_ready(kube, f"ner-{n}") for n in range(20)) and _ready(kube, "my-elser"), what="Ready")
    polls, listings = es.count("/_stats"), es.count("GET /_inference/_all")
    assert 1 <= listings <= polls <= 4, (polls, listings)  # 21 resources, a few shared polls
    await op.close()


async def test_without_monitor_inference_ownership_is_unknown_and_said_so() -> None:
    es, kube = EndpointES(forbid_listing=True), FakeKube()
    op = operator_for({URL: es}, kube)
    op.runtime.observe("ADDED", resource("ner", URL, numberOfAllocations=1))
    status = await _until_ready(kube, "ner")  # an ordinary deployment is still managed
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert "whether an inference endpoint owns the deployment is unknown" in ready["message"]
    assert "monitor_inference" in ready["message"]
    assert "inferenceEndpoint" not in status
    await op.close()


async def test_deletion_with_stop_leaves_an_endpoints_deployment_running_and_completes() -> None:
    es, kube = EndpointES(), FakeKube()
    es.own("my-elser", 1)
    op = operator_for({URL: es}, kube)
    body = resource("my-elser", URL, numberOfAllocations=1, deletionPolicy="Stop")
    op.runtime.observe("ADDED", body)
    await until(lambda: kube.finalizer_writes == [("my-elser", ["esml.io/stop-deployment"])], what="finalizer")
    await _until_ready(kube, "my-elser")
    op.runtime.observe("MODIFIED", deleting(body))
    await until(lambda: ("my-elser", []) in kube.finalizer_writes, what="finalizer released")
    assert es.count("_stop") == 0 and "my-elser" in es.deployments
    await op.writer.events.drain()
    (event,) = [e for e in kube.events if e[1] == "StopSkippedForInferenceEndpoint"]
    assert "created by inference endpoint [my-elser]" in event[2]
    await op.close()


async def test_unknown_ownership_deletion_takes_the_stop_refusal_as_the_answer() -> None:
    es, kube = EndpointES(forbid_listing=True), FakeKube()
    es.own("my-elser", 1)
    op = operator_for({URL: es}, kube)
    body = resource("my-elser", URL, numberOfAllocations=1, deletionPolicy="Stop")
    op.runtime.observe("ADDED", deleting(body))
    await until(lambda: ("my-elser", []) in kube.finalizer_writes, what="finalizer released")
    assert es.count("_stop") == 1 and "my-elser" in es.deployments  # one refused, non-forced stop; never forced
    await op.writer.events.drain()
    (event,) = [e for e in kube.events if e[1] == "StopSkippedForInferenceEndpoint"]
    assert "Elasticsearch refused to stop it" in event[2]
    await op.close()


async def _until_ready(kube: FakeKube, name: str) -> dict[str, Any]:
    await until(lambda: _ready(kube, name), what=f"{name} Ready")
    status = _ready(kube, name)
    assert status is not None
    return dict(status)
