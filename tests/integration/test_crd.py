"""The ModelDeployment API and the examples against the real kube-apiserver (the install: test_install.py).

The CRD in crds/ is installed once per session by the ``control_plane`` fixture.
Every rule is checked through kubectl, the way a user meets it: the exact
``<field path>: <reason>: <message>`` text in kubectl's stderr.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.polling import wait_for

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "esml.io_modeldeployments.yaml"
EXAMPLES = REPO / "manifests" / "examples"

pytestmark = pytest.mark.cluster

# An Elastic Cloud id in the console's format (the example in Elastic's documentation).
CLOUD_ID = (
    "my-deployment:dXMtZWFzdC0xLmF3cy5mb3VuZC5pbyRjZWM2ZjI2MWE3NGJmMjRjZTMzYmI4ODExYjg0Mjk0Zi"
    "RjNmMyY2E2ZDA0MjI0OWFmMGNjN2Q3YTllOTYyNTc0Mw=="
)

MINIMAL_SPEC: dict[str, Any] = {
    "modelId": "my-model",
    "elasticsearch": {"url": "https://es.example.com:9200"},
}


# -- helpers -----------------------------------------------------------------------------


def manifest(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "esml.io/v1alpha1",
        "kind": "ModelDeployment",
        "metadata": {"name": name},
        "spec": spec,
    }


def spec_with(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(MINIMAL_SPEC)
    spec.update(copy.deepcopy(changes))
    return spec


def create(cp: Any, ns: str, obj: dict[str, Any], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return cp.kubectl("create", "-n", ns, "-o", "json", "-f", "-", input=json.dumps(obj), check=check)


def get(cp: Any, ns: str, name: str, *extra: str) -> dict[str, Any]:
    return json.loads(cp.kubectl("get", "-n", ns, f"modeldeployment/{name}", "-o", "json", *extra).stdout)


def patch_status(cp: Any, ns: str, name: str, status: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return cp.kubectl(
        "patch",
        "-n",
        ns,
        f"modeldeployment/{name}",
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
        "-o",
        "json",
    )


def rejected(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert proc.returncode != 0, f"expected a rejection, got success:\n{proc.stdout}"
    for text in expected:
        assert text in proc.stderr, f"{text!r} not in kubectl's stderr:\n{proc.stderr}"


def table(text: str) -> list[dict[str, str]]:
    """Parse kubectl's column output by header positions (cells may be empty)."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    names = header.split()
    starts = []
    pos = 0
    for name in names:
        pos = header.index(name, pos)
        starts.append(pos)
        pos += len(name)
    rows = []
    for line in lines[1:]:
        cells = [line[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
        rows.append(dict(zip(names, cells, strict=True)))
    return rows


def crd_doc() -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all(CRD_FILE.read_text()) if d]
    assert len(docs) == 1
    return docs[0]


# -- the schema file itself ----------------------------------------------------------------


def walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, sub in schema.get("properties", {}).items():
        found += walk(sub, f"{path}.{name}")
    if "items" in schema:
        found += walk(schema["items"], f"{path}[]")
    return found


def test_every_field_is_described_and_only_status_kopf_preserves_unknown_fields() -> None:
    schema = crd_doc()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    nodes = walk(schema)
    undocumented = [
        path
        for path, node in nodes
        if path
        and not path.startswith(".metadata")
        and path.split(".")[-1] not in {"apiVersion", "kind"}
        and not node.get("description")
    ]
    assert undocumented == []
    preserving = [path for path, node in nodes if node.get("x-kubernetes-preserve-unknown-fields")]
    assert preserving == [".status.kopf"]
    # every string has a bound and every list a maxItems (CEL cost estimation)
    unbounded = [
        path
        for path, node in nodes
        if (
            node.get("type") == "string"
            and "maxLength" not in node
            and "enum" not in node
            and node.get("format") != "date-time"
            and path not in {".apiVersion", ".kind"}
        )
        or (node.get("type") == "array" and "maxItems" not in node)
    ]
    assert unbounded == []


# -- defaults ------------------------------------------------------------------------------


def test_minimal_resource_is_accepted_with_defaults(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("minimal", MINIMAL_SPEC))
    spec = get(control_plane, namespace, "minimal")["spec"]
    assert spec == {
        "modelId": "my-model",
        "elasticsearch": {"url": "https://es.example.com:9200", "insecureSkipTLSVerify": False},
        "numberOfAllocations": 1,
        "threadsPerAllocation": 1,
        "priority": "normal",
        "startPolicy": "IfMissing",
        "deletionPolicy": "Retain",
        "restartPolicy": "Never",
        "paused": False,
        "adaptiveAllocations": {"enabled": False},  # so the ADAPTIVE column is always true or false
    }
    # The operator resolves deploymentId := modelId; the API server must not store it.
    assert "deploymentId" not in spec


def test_nested_defaults(control_plane: Any, namespace: str) -> None:
    spec = spec_with(
        elasticsearch={"url": "https://es:9200", "caSecretRef": {"name": "ca"}},
        adaptiveAllocations={"maxNumberOfAllocations": 2},
    )
    create(control_plane, namespace, manifest("nested", spec))
    got = get(control_plane, namespace, "nested")["spec"]
    assert got["elasticsearch"]["caSecretRef"] == {"name": "ca", "key": "ca.crt"}
    assert got["adaptiveAllocations"] == {"enabled": False, "maxNumberOfAllocations": 2}


# -- accepted variants (the schema must not be stricter than Elasticsearch) -----------------

ACCEPTED = {
    "elser-dot-prefixed-model": spec_with(modelId=".elser_model_2_linux-x86_64"),
    "conll-model-and-deployment-id": spec_with(
        modelId="elastic__distilbert-base-uncased-finetuned-conll03-english", deploymentId="ner.v1-search"
    ),
    "eck-ref-full": spec_with(
        elasticsearch={"elasticsearchRef": {"name": "quickstart", "namespace": "elastic", "serviceName": "es-http"}}
    ),
    "url-http-path-prefix": spec_with(elasticsearch={"url": "http://proxy.example.com/es"}),
    "url-ipv6-credentials-ca": spec_with(
        elasticsearch={
            "url": "https://[::1]:9200",
            "credentialsSecretRef": {"name": "creds"},
            "caSecretRef": {"name": "ca", "key": "tls.ca"},
            "insecureSkipTLSVerify": True,
        }
    ),
    "low-priority-one-allocation-one-thread": spec_with(priority="low", numberOfAllocations=1, threadsPerAllocation=1),
    "low-priority-adaptive-disabled": spec_with(priority="low", adaptiveAllocations={"enabled": False}),
    "adaptive-min0-max1": spec_with(
        adaptiveAllocations={"enabled": True, "minNumberOfAllocations": 0, "maxNumberOfAllocations": 1}
    ),
    "adaptive-min-equals-max": spec_with(
        adaptiveAllocations={"enabled": True, "minNumberOfAllocations": 3, "maxNumberOfAllocations": 3}
    ),
    "threads-32-queue-100000": spec_with(threadsPerAllocation=32, queueCapacity=100000),
    "policies": spec_with(startPolicy="Never", deletionPolicy="Stop", paused=True),
    "cloud-id-with-api-key": spec_with(elasticsearch={"cloudId": CLOUD_ID, "credentialsSecretRef": {"name": "cloud"}}),
    "cloud-id-without-name-with-ca": spec_with(
        elasticsearch={"cloudId": CLOUD_ID.split(":", 1)[1], "caSecretRef": {"name": "ca"}}
    ),
    "cloud-id-name-with-colons-and-spaces": spec_with(
        elasticsearch={"cloudId": "Search team:prod:" + CLOUD_ID.split(":", 1)[1]}
    ),
}
CACHE_SIZES_OK = ["0", "0b", "512b", "10kb", "10k", "1.5kb", "20mb", "1GB", "2.25g", "1tb", "1pb"]


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_valid_variants_are_accepted(control_plane: Any, namespace: str, case: str) -> None:
    proc = create(control_plane, namespace, manifest("v", ACCEPTED[case]), check=False)
    assert proc.returncode == 0, proc.stderr


def test_cache_sizes_that_elasticsearch_parses_are_accepted(control_plane: Any, namespace: str) -> None:
    for i, size in enumerate(CACHE_SIZES_OK):
        proc = create(control_plane, namespace, manifest(f"c{i}", spec_with(cacheSize=size)), check=False)
        assert proc.returncode == 0, f"cacheSize {size!r}: {proc.stderr}"


# -- rejected on create ----------------------------------------------------------------------

REJECTED: dict[str, tuple[dict[str, Any], list[str]]] = {
    "no-connection-form": (
        spec_with(elasticsearch={}),
        ["spec.elasticsearch: Required value: one of elasticsearchRef, url or cloudId is required"],
    ),
    "no-connection-form-only-tls-flag": (
        spec_with(elasticsearch={"insecureSkipTLSVerify": True}),
        ["one of elasticsearchRef, url or cloudId is required"],
    ),
    "both-connection-forms": (
        spec_with(elasticsearch={"url": "https://es:9200", "elasticsearchRef": {"name": "quickstart"}}),
        ["spec.elasticsearch: Forbidden: elasticsearchRef, url and cloudId are mutually exclusive"],
    ),
    "url-and-cloud-id": (
        spec_with(elasticsearch={"url": "https://es:9200", "cloudId": CLOUD_ID}),
        ["spec.elasticsearch: Forbidden: elasticsearchRef, url and cloudId are mutually exclusive"],
    ),
    "eck-ref-and-cloud-id": (
        spec_with(elasticsearch={"elasticsearchRef": {"name": "quickstart"}, "cloudId": CLOUD_ID}),
        ["spec.elasticsearch: Forbidden: elasticsearchRef, url and cloudId are mutually exclusive"],
    ),
    "all-three-connection-forms": (
        spec_with(
            elasticsearch={"url": "https://es:9200", "elasticsearchRef": {"name": "quickstart"}, "cloudId": CLOUD_ID}
        ),
        ["spec.elasticsearch: Forbidden: elasticsearchRef, url and cloudId are mutually exclusive"],
    ),
    "cloud-id-not-base64": (
        spec_with(elasticsearch={"cloudId": "prod:not base64!"}),
        ["spec.elasticsearch.cloudId in body should match"],
    ),
    "cloud-id-a-url": (
        spec_with(elasticsearch={"cloudId": "https://es.example.com:9243"}),
        ["spec.elasticsearch.cloudId in body should match"],
    ),
    "cloud-id-empty": (
        spec_with(elasticsearch={"cloudId": ""}),
        ["spec.elasticsearch.cloudId in body should be at least 1 chars long"],
    ),
    "credentials-with-eck-ref": (
        spec_with(elasticsearch={"elasticsearchRef": {"name": "quickstart"}, "credentialsSecretRef": {"name": "c"}}),
        [
            "spec.elasticsearch.credentialsSecretRef: Forbidden: credentialsSecretRef is only allowed with url or "
            "cloudId"
        ],
    ),
    "ca-with-eck-ref": (
        spec_with(elasticsearch={"elasticsearchRef": {"name": "quickstart"}, "caSecretRef": {"name": "ca"}}),
        ["spec.elasticsearch.caSecretRef: Forbidden: caSecretRef is only allowed with url or cloudId"],
    ),
    "eck-ref-without-name": (
        spec_with(elasticsearch={"elasticsearchRef": {"namespace": "elastic"}}),
        ["spec.elasticsearch.elasticsearchRef.name: Required value"],
    ),
    "negative-allocations": (
        spec_with(numberOfAllocations=-1),
        ["spec.numberOfAllocations in body should be greater than or equal to 0"],
    ),
    "threads-3": (
        spec_with(threadsPerAllocation=3),
        ['spec.threadsPerAllocation: Unsupported value: 3: supported values: "1", "2", "4", "8", "16", "32"'],
    ),
    "threads-64": (spec_with(threadsPerAllocation=64), ["spec.threadsPerAllocation: Unsupported value: 64"]),
    "low-priority-2-allocations": (
        spec_with(priority="low", numberOfAllocations=2),
        ["spec.numberOfAllocations: Invalid value: numberOfAllocations must be 0 or 1 when priority is low"],
    ),
    "low-priority-2-threads": (
        spec_with(priority="low", threadsPerAllocation=2),
        ["spec.threadsPerAllocation: Invalid value: threadsPerAllocation must be 1 when priority is low"],
    ),
    "low-priority-adaptive": (
        spec_with(priority="low", adaptiveAllocations={"enabled": True, "maxNumberOfAllocations": 1}),
        ["spec.adaptiveAllocations.enabled: Forbidden: adaptiveAllocations cannot be enabled when priority is low"],
    ),
    "adaptive-min-greater-than-max": (
        spec_with(adaptiveAllocations={"enabled": True, "minNumberOfAllocations": 3, "maxNumberOfAllocations": 2}),
        [
            "spec.adaptiveAllocations.minNumberOfAllocations: Invalid value: "
            "minNumberOfAllocations must not be larger than maxNumberOfAllocations"
        ],
    ),
    "adaptive-max-0": (
        spec_with(adaptiveAllocations={"enabled": True, "maxNumberOfAllocations": 0}),
        ["spec.adaptiveAllocations.maxNumberOfAllocations in body should be greater than or equal to 1"],
    ),
    "adaptive-min-negative": (
        spec_with(adaptiveAllocations={"enabled": True, "minNumberOfAllocations": -1}),
        ["spec.adaptiveAllocations.minNumberOfAllocations in body should be greater than or equal to 0"],
    ),
    "queue-capacity-0": (
        spec_with(queueCapacity=0),
        ["spec.queueCapacity in body should be greater than or equal to 1"],
    ),
    "queue-capacity-too-big": (
        spec_with(queueCapacity=100001),
        ["spec.queueCapacity in body should be less than or equal to 100000"],
    ),
    "cache-size-without-unit": (spec_with(cacheSize="512"), ["spec.cacheSize in body should match"]),
    "cache-size-fractional-bytes": (spec_with(cacheSize="1.5b"), ["spec.cacheSize in body should match"]),
    "cache-size-three-decimals": (spec_with(cacheSize="1.555kb"), ["spec.cacheSize in body should match"]),
    "cache-size-negative": (spec_with(cacheSize="-1"), ["spec.cacheSize in body should match"]),
    "cache-size-garbage": (spec_with(cacheSize="lots"), ["spec.cacheSize in body should match"]),
    "cache-size-integer": (spec_with(cacheSize=0), ['spec.cacheSize: Invalid value: "integer"']),
    "url-ftp": (
        spec_with(elasticsearch={"url": "ftp://es:9200"}),
        ["spec.elasticsearch.url in body should match"],
    ),
    "url-no-scheme": (
        spec_with(elasticsearch={"url": "es:9200"}),
        ["spec.elasticsearch.url in body should match"],
    ),
    "url-userinfo": (
        spec_with(elasticsearch={"url": "https://elastic:secret@es:9200"}),
        ["spec.elasticsearch.url in body should match"],
    ),
    "url-query": (
        spec_with(elasticsearch={"url": "https://es:9200/?pretty"}),
        ["spec.elasticsearch.url in body should match"],
    ),
    "url-empty-host": (
        spec_with(elasticsearch={"url": "https://"}),
        ["spec.elasticsearch.url in body should match"],
    ),
    "model-id-uppercase": (spec_with(modelId="My-Model"), ["spec.modelId in body should match"]),
    "model-id-trailing-dash": (spec_with(modelId="model-"), ["spec.modelId in body should match"]),
    "model-id-too-long": (
        spec_with(modelId="m" * 65),
        ["spec.modelId: Too long: may not be more than 64 bytes"],
    ),
    "deployment-id-bad": (spec_with(deploymentId="Bad Id"), ["spec.deploymentId in body should match"]),
    "priority-high": (spec_with(priority="high"), ['spec.priority: Unsupported value: "high"']),
    "start-policy-always": (
        spec_with(startPolicy="Always"),
        ['spec.startPolicy: Unsupported value: "Always"'],
    ),
    "deletion-policy-delete": (
        spec_with(deletionPolicy="Delete"),
        ['spec.deletionPolicy: Unsupported value: "Delete"'],
    ),
    "missing-model-id": ({"elasticsearch": {"url": "https://es:9200"}}, ["spec.modelId: Required value"]),
    "missing-elasticsearch": ({"modelId": "m"}, ["spec.elasticsearch: Required value"]),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_invalid_resource_is_rejected_with_its_message(control_plane: Any, namespace: str, case: str) -> None:
    spec, messages = REJECTED[case]
    proc = create(control_plane, namespace, manifest("bad", spec), check=False)
    rejected(proc, 'The ModelDeployment "bad" is invalid', *messages)
    assert control_plane.kubectl("get", "-n", namespace, "mdep/bad", check=False).returncode != 0


def test_missing_spec_is_rejected(control_plane: Any, namespace: str) -> None:
    obj = manifest("nospec", MINIMAL_SPEC)
    del obj["spec"]
    rejected(create(control_plane, namespace, obj, check=False), "spec: Required value")


def test_name_longer_than_a_label_value_is_rejected(control_plane: Any, namespace: str) -> None:
    rejected(
        create(control_plane, namespace, manifest("a" * 64, MINIMAL_SPEC), check=False),
        "metadata.name: Too long: may not be more than 63 bytes",
    )
    create(control_plane, namespace, manifest("a" * 63, MINIMAL_SPEC))


# -- transition rules ------------------------------------------------------------------------


def patch_spec(cp: Any, ns: str, name: str, patch: Any, kind: str = "merge") -> subprocess.CompletedProcess[str]:
    return cp.kubectl("patch", "-n", ns, f"mdep/{name}", f"--type={kind}", "-p", json.dumps(patch), check=False)


def test_deployment_id_cannot_change_or_be_removed(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("pinned", spec_with(deploymentId="search")))

    rejected(
        patch_spec(control_plane, namespace, "pinned", {"spec": {"deploymentId": "ingest"}}),
        'spec.deploymentId: Invalid value: "ingest": deploymentId is immutable once set',
    )
    rejected(
        patch_spec(control_plane, namespace, "pinned", [{"op": "remove", "path": "/spec/deploymentId"}], "json"),
        "spec.deploymentId: Forbidden: deploymentId cannot be removed once set",
    )
    rejected(
        patch_spec(control_plane, namespace, "pinned", {"spec": {"deploymentId": None}}),
        "deploymentId cannot be removed once set",
    )
    assert get(control_plane, namespace, "pinned")["spec"]["deploymentId"] == "search"

    # Unrelated updates still pass the transition rules.
    proc = patch_spec(
        control_plane, namespace, "pinned", {"spec": {"numberOfAllocations": 2, "deploymentId": "search"}}
    )
    assert proc.returncode == 0, proc.stderr
    assert get(control_plane, namespace, "pinned")["spec"]["numberOfAllocations"] == 2


def test_deployment_id_can_be_made_explicit_only_with_the_id_in_use(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("implicit", MINIMAL_SPEC))
    rejected(
        patch_spec(control_plane, namespace, "implicit", {"spec": {"deploymentId": "other"}}),
        "spec.deploymentId: Invalid value: deploymentId can only be added later with the deployment id in use",
    )
    proc = patch_spec(control_plane, namespace, "implicit", {"spec": {"deploymentId": "my-model"}})
    assert proc.returncode == 0, proc.stderr
    rejected(
        patch_spec(control_plane, namespace, "implicit", {"spec": {"deploymentId": "other"}}),
        "deploymentId is immutable once set",
    )


def test_update_to_low_priority_with_several_allocations_is_rejected(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("prio", spec_with(numberOfAllocations=2)))
    rejected(
        patch_spec(control_plane, namespace, "prio", {"spec": {"priority": "low"}}),
        "numberOfAllocations must be 0 or 1 when priority is low",
    )


# -- kubectl explain, get, scale ------------------------------------------------------------


def explain(cp: Any, field: str, *needles: str) -> str:
    def attempt() -> str | None:
        proc = cp.kubectl("explain", field, check=False)
        return proc.stdout if proc.returncode == 0 and all(n in proc.stdout for n in needles) else None

    return str(wait_for(attempt, what=f"kubectl explain {field} to show {needles}"))


def test_kubectl_explain_documents_the_fields(control_plane: Any) -> None:
    out = explain(control_plane, "modeldeployment.spec.numberOfAllocations", "numberOfAllocations <integer>")
    assert "The total number of allocations across all ML nodes" in out
    assert "/scale" in out
    out = explain(control_plane, "mdep.spec.elasticsearch.caSecretRef.key", "key <string>")
    assert "Key of the CA bundle in the Secret" in out
    out = explain(control_plane, "mdep.status.routingTable", "routingTable <[]Object>")
    assert "One entry per ML node" in out
    out = explain(control_plane, "modeldeployment", "KIND:")
    assert "ModelDeployment keeps one Elasticsearch trained-model deployment" in out


FULL_STATUS: dict[str, Any] = {
    "observedGeneration": 1,
    "assignmentState": "started",
    "allocations": 2,
    "targetAllocations": 3,
    "allocationState": "started",
    "routingTable": [
        {
            "node": "n1",
            "nodeName": "es-ml-0",
            "currentAllocations": 2,
            "targetAllocations": 2,
            "routingState": "started",
            "reason": "",
        },
        {"node": "n2", "currentAllocations": 0, "targetAllocations": 1, "routingState": "starting"},
    ],
    "taskParameters": {
        "modelId": "my-model",
        "deploymentId": "my-model",
        "numberOfAllocations": 3,
        "threadsPerAllocation": 1,
        "queueCapacity": 10000,
        "priority": "normal",
        "cacheSize": "1630b",
        "modelBytes": 265632637,
    },
    "adaptiveAllocations": {"enabled": False},
    "startTime": "2026-11-25T10:00:00.123456Z",
    "lastSyncTime": "2026-11-25T10:00:05Z",
    "lastUpdateTime": "2026-11-25T10:00:01Z",
    "selector": "esml.io/model-deployment=full",
    "elasticsearchVersion": "9.1.0",
    "conditions": [
        {
            "type": "Ready",
            "status": "False",
            "reason": "Scaling",
            "message": "2 of 3 allocations",
            "lastTransitionTime": "2026-11-25T10:00:05Z",
            "observedGeneration": 1,
        },
        {
            "type": "Reconciling",
            "status": "True",
            "reason": "Scaling",
            "message": "",
            "lastTransitionTime": "2026-11-25T10:00:05Z",
            "observedGeneration": 1,
        },
        {
            "type": "Stalled",
            "status": "False",
            "reason": "status_exception",
            "message": "retrying",
            "lastTransitionTime": "2026-11-25T10:00:05Z",
            "observedGeneration": 1,
        },
        {
            "type": "ElasticsearchReachable",
            "status": "True",
            "reason": "Connected",
            "message": "",
            "lastTransitionTime": "2026-11-25T10:00:05Z",
            "observedGeneration": 1,
        },
    ],
    "kopf": {"progress": {"reconcile": {"started": "2026-11-25T10:00:00Z", "retries": 1}}, "dummy": "x"},
}


def test_status_schema_keeps_every_documented_field(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("full", MINIMAL_SPEC))
    status = copy.deepcopy(FULL_STATUS)
    status["unknownField"] = "pruned"
    status["taskParameters"]["unknownToo"] = 1
    proc = patch_status(control_plane, namespace, "full", status)
    assert 'unknown field "status.unknownField"' in proc.stderr
    assert get(control_plane, namespace, "full")["status"] == FULL_STATUS


def test_status_lists_are_maps(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("maps", MINIMAL_SPEC))
    dup_route = {"routingTable": [{"node": "n1", "currentAllocations": 1}, {"node": "n1", "currentAllocations": 2}]}
    rejected(
        control_plane.kubectl(
            "patch",
            "-n",
            namespace,
            "mdep/maps",
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": dup_route}),
            check=False,
        ),
        "status.routingTable[1]: Duplicate value",
    )
    cond = FULL_STATUS["conditions"][0]
    incomplete = {k: v for k, v in cond.items() if k != "reason"}
    rejected(
        control_plane.kubectl(
            "patch",
            "-n",
            namespace,
            "mdep/maps",
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": {"conditions": [incomplete]}}),
            check=False,
        ),
        "status.conditions[0].reason: Required value",
    )


def test_status_is_a_subresource(control_plane: Any, namespace: str) -> None:
    obj = manifest("sub", MINIMAL_SPEC)
    obj["status"] = {"allocations": 5}
    create(control_plane, namespace, obj)
    assert get(control_plane, namespace, "sub").get("status", {}) == {}


def test_kubectl_get_prints_the_columns(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("cols", spec_with(numberOfAllocations=3)))
    fresh = table(control_plane.kubectl("get", "-n", namespace, "mdep").stdout)
    assert list(fresh[0]) == ["NAME", "DESIRED", "ALLOCATED", "READY", "REASON", "AGE"]
    assert fresh[0]["DESIRED"] == fresh[0]["ALLOCATED"] == fresh[0]["READY"] == ""  # before the first status

    # assignmentState and allocationState differ here, so the State column's source is pinned.
    patch_status(
        control_plane,
        namespace,
        "cols",
        {
            **FULL_STATUS,
            "desiredAllocations": "3",
            "allocations": 3,
            "allocationState": "fully_allocated",
            "selector": "esml.io/model-deployment=cols",
            "inferenceEndpoint": {"id": "my-model", "taskType": "sparse_embedding", "service": "elasticsearch"},
        },
    )
    narrow = control_plane.kubectl("get", "-n", namespace, "mdep").stdout
    assert max(len(line) for line in narrow.splitlines()) <= 80  # a person's terminal
    rows = table(control_plane.kubectl("get", "-n", namespace, "modeldeployments", "-o", "wide").stdout)
    assert len(rows) == 1
    row = rows[0]
    assert row == {
        "NAME": "cols",
        "DESIRED": "3",
        "ALLOCATED": "3",
        "READY": "False",
        "REASON": "Scaling",
        "AGE": row["AGE"],
        "MODEL": "my-model",
        "DEPLOYMENT": "my-model",
        "ENDPOINT": "my-model",  # the inference endpoint that created it (status.inferenceEndpoint.id)
        "STATE": "started",
        "ADAPTIVE": "false",  # defaulted by the API server: always true or false
        "PAUSED": "false",
    }
    assert row["AGE"]
    # the category and the short name
    assert table(control_plane.kubectl("get", "-n", namespace, "esml").stdout)[0]["NAME"].endswith("cols")


def test_scale_subresource(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("x", MINIMAL_SPEC))
    generation = get(control_plane, namespace, "x")["metadata"]["generation"]

    control_plane.kubectl("scale", "-n", namespace, "mdep/x", "--replicas=3")
    obj = get(control_plane, namespace, "x")
    assert obj["spec"]["numberOfAllocations"] == 3
    assert obj["metadata"]["generation"] == generation + 1

    patch_status(control_plane, namespace, "x", {"allocations": 2, "selector": "esml.io/model-deployment=x"})
    scale = get(control_plane, namespace, "x", "--subresource=scale")
    assert scale["kind"] == "Scale"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 2, "selector": "esml.io/model-deployment=x"}

    import kubernetes

    with control_plane.api_client() as api_client:
        api = kubernetes.client.CustomObjectsApi(api_client)
        got = api.get_namespaced_custom_object_scale("esml.io", "v1alpha1", namespace, "modeldeployments", "x")
        assert got["status"]["selector"] == "esml.io/model-deployment=x"
        api.patch_namespaced_custom_object_scale(
            "esml.io", "v1alpha1", namespace, "modeldeployments", "x", {"spec": {"replicas": 4}}
        )
    assert get(control_plane, namespace, "x")["spec"]["numberOfAllocations"] == 4

    control_plane.kubectl("scale", "-n", namespace, "mdep/x", "--replicas=0")  # scale to zero
    assert get(control_plane, namespace, "x")["spec"]["numberOfAllocations"] == 0


def test_scale_goes_through_the_cel_rules(control_plane: Any, namespace: str) -> None:
    create(control_plane, namespace, manifest("low", spec_with(priority="low")))
    rejected(
        control_plane.kubectl("scale", "-n", namespace, "mdep/low", "--replicas=2", check=False),
        "numberOfAllocations must be 0 or 1 when priority is low",
    )
    assert get(control_plane, namespace, "low")["spec"]["numberOfAllocations"] == 1


# -- examples ------------------------------------------------------------------------------


#: Examples of other projects' kinds, validated against those projects' CRDs elsewhere (test_keda_example.py).
FOREIGN_EXAMPLES = {"kustomization.yaml", "keda-scaledobject.yaml"}


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.glob("*.yaml") if p.name not in FOREIGN_EXAMPLES)


def test_examples_are_accepted_by_the_api_server(control_plane: Any, namespace: str) -> None:
    assert len(example_files()) >= 2
    proc = control_plane.kubectl("apply", "-k", str(EXAMPLES), "-n", namespace, "--dry-run=server", "-o", "json")
    obj = json.loads(proc.stdout)
    items = obj.get("items", [obj])
    assert [i["spec"]["modelId"] for i in items] == ["elastic__distilbert-base-uncased-finetuned-conll03-english"]
    es = items[0]["spec"]["elasticsearch"]
    assert es["credentialsSecretRef"] == {"name": "esml-demo-credentials"}
    assert es["caSecretRef"]["name"] == "esml-demo-ca"
    assert items[0]["spec"]["numberOfAllocations"] == 1

    for path in example_files():
        proc = control_plane.kubectl("apply", "-f", str(path), "-n", namespace, "--dry-run=server", check=False)
        assert proc.returncode == 0, f"{path.name}: {proc.stderr}"
        assert "(server dry run)" in proc.stdout

    eck = yaml.safe_load((EXAMPLES / "modeldeployment-eck-adaptive.yaml").read_text())
    assert "elasticsearchRef" in eck["spec"]["elasticsearch"]
    assert eck["spec"]["adaptiveAllocations"]["enabled"] is True
