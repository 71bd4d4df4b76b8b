"""parse_spec: defaults, resolved fields, and every SpecError."""

from __future__ import annotations

from typing import Any

import pytest

from esml_operator.reconcile import (
    AdaptiveSpec,
    ConnectionSpec,
    ElasticsearchRefSpec,
    ModelDeploymentSpec,
    SecretRef,
    SpecError,
    parse_spec,
)
from esml_operator.reconcile.bytesize import human_byte_size, parse_byte_size, same_byte_size


def test_minimal_spec_resolves_defaults() -> None:
    parsed = parse_spec({"modelId": "elser", "elasticsearch": {"url": "https://es:9200"}})
    assert parsed == ModelDeploymentSpec(
        model_id="elser",
        deployment_id="elser",
        number_of_allocations=1,
        adaptive=None,
        threads_per_allocation=None,
        queue_capacity=None,
        priority=None,
        cache_size=None,
        connection=ConnectionSpec(
            elasticsearch_ref=None,
            url="https://es:9200",
            credentials_secret_ref=None,
            ca_secret_ref=None,
            insecure_skip_tls_verify=False,
        ),
        start_policy="IfMissing",
        deletion_policy="Retain",
        paused=False,
    )


def test_full_spec_with_eck_reference() -> None:
    parsed = parse_spec(
        {
            "modelId": ".elser_model_2",
            "deploymentId": "elser-search",
            "numberOfAllocations": 4,
            "adaptiveAllocations": {"enabled": True, "minNumberOfAllocations": 0, "maxNumberOfAllocations": 8},
            "threadsPerAllocation": 2,
            "queueCapacity": 2048,
            "priority": "normal",
            "cacheSize": "20mb",
            "elasticsearch": {"elasticsearchRef": {"name": "quickstart", "namespace": "es", "serviceName": "svc"}},
            "startPolicy": "Never",
            "deletionPolicy": "Stop",
            "paused": True,
        }
    )
    assert parsed.model_id == ".elser_model_2"  # Elastic-provided models start with "."
    assert parsed.deployment_id == "elser-search"
    assert parsed.number_of_allocations == 4
    assert parsed.adaptive == AdaptiveSpec(True, 0, 8)
    assert parsed.adaptive_enabled is True
    assert (parsed.threads_per_allocation, parsed.queue_capacity, parsed.priority, parsed.cache_size) == (
        2,
        2048,
        "normal",
        "20mb",
    )
    assert parsed.connection.elasticsearch_ref == ElasticsearchRefSpec("quickstart", "es", "svc")
    assert parsed.connection.url is None
    assert (parsed.start_policy, parsed.deletion_policy, parsed.paused) == ("Never", "Stop", True)


def test_url_connection_with_secrets_defaults_ca_key() -> None:
    parsed = parse_spec(
        {
            "modelId": "m",
            "elasticsearch": {
                "url": "https://es:9200",
                "credentialsSecretRef": {"name": "creds"},
                "caSecretRef": {"name": "ca"},
                "insecureSkipTLSVerify": True,
            },
        }
    )
    assert parsed.connection.credentials_secret_ref == SecretRef("creds", None)
    assert parsed.connection.ca_secret_ref == SecretRef("ca", "ca.crt")
    assert parsed.connection.insecure_skip_tls_verify is True
    custom = parse_spec(
        {"modelId": "m", "elasticsearch": {"url": "http://es:9200", "caSecretRef": {"name": "ca", "key": "tls.crt"}}}
    )
    assert custom.connection.ca_secret_ref == SecretRef("ca", "tls.crt")


def test_adaptive_disabled_is_not_enabled_and_enabled_defaults_false() -> None:
    parsed = parse_spec({"modelId": "m", "elasticsearch": {"url": "https://es"}, "adaptiveAllocations": {}})
    assert parsed.adaptive == AdaptiveSpec(False, None, None)
    assert parsed.adaptive_enabled is False


def test_low_priority_with_one_allocation_is_valid() -> None:
    parsed = parse_spec(
        {"modelId": "m", "elasticsearch": {"url": "https://es"}, "priority": "low", "threadsPerAllocation": 1}
    )
    assert parsed.priority == "low"
    assert parsed.number_of_allocations == 1


BASE: dict[str, Any] = {"modelId": "m", "elasticsearch": {"url": "https://es:9200"}}


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"modelId": None}, "modelId is required"),
        ({"modelId": ""}, "modelId is required"),
        ({"modelId": 7}, "modelId must be a string"),
        ({"modelId": "My-Model"}, "not a valid Elasticsearch id"),
        ({"modelId": "-model"}, "not a valid Elasticsearch id"),
        ({"modelId": "..elser"}, "not a valid Elasticsearch id"),
        ({"modelId": "model-"}, "not a valid Elasticsearch id"),
        ({"modelId": "a" * 65}, "not a valid Elasticsearch id"),
        ({"deploymentId": "Bad Id"}, "deploymentId 'Bad Id' is not a valid"),
        ({"numberOfAllocations": -1}, "numberOfAllocations must be >= 0, got -1"),
        ({"numberOfAllocations": "2"}, "numberOfAllocations must be an integer"),
        ({"numberOfAllocations": True}, "numberOfAllocations must be an integer"),
        ({"numberOfAllocations": 1.5}, "numberOfAllocations must be an integer"),
        ({"threadsPerAllocation": 3}, "threadsPerAllocation must be one of 1, 2, 4, 8, 16, 32, got 3"),
        ({"threadsPerAllocation": 64}, "threadsPerAllocation must be one of"),
        ({"queueCapacity": 0}, "queueCapacity must be >= 1"),
        ({"queueCapacity": 100_001}, "queueCapacity must be at most 100000"),
        ({"priority": "high"}, "priority must be one of normal, low"),
        ({"priority": "low", "numberOfAllocations": 2}, "priority low requires numberOfAllocations 0 or 1"),
        ({"priority": "low", "threadsPerAllocation": 2}, "priority low requires"),
        ({"cacheSize": "10 parsecs"}, "cacheSize must be a byte size"),
        ({"cacheSize": "100"}, "cacheSize must be a byte size"),
        ({"cacheSize": 10}, "cacheSize must be a string"),
        ({"adaptiveAllocations": "yes"}, "adaptiveAllocations must be an object"),
        ({"adaptiveAllocations": {"enabled": "true"}}, "adaptiveAllocations.enabled must be true or false"),
        (
            {"adaptiveAllocations": {"enabled": True, "minNumberOfAllocations": -1}},
            "minNumberOfAllocations must be >= 0",
        ),
        (
            {"adaptiveAllocations": {"enabled": True, "maxNumberOfAllocations": 0}},
            "maxNumberOfAllocations must be >= 1",
        ),
        (
            {"adaptiveAllocations": {"enabled": True, "minNumberOfAllocations": 5, "maxNumberOfAllocations": 2}},
            "minNumberOfAllocations (5) must not be larger than adaptiveAllocations.maxNumberOfAllocations (2)",
        ),
        ({"elasticsearch": None}, "elasticsearch is required"),
        ({"elasticsearch": "https://es"}, "elasticsearch must be an object"),
        ({"elasticsearch": {}}, "exactly one of elasticsearchRef, url or cloudId"),
        ({"elasticsearch": {"url": "https://es", "elasticsearchRef": {"name": "q"}}}, "exactly one of"),
        ({"elasticsearch": {"url": "ftp://es"}}, "must start with http:// or https://"),
        ({"elasticsearch": {"elasticsearchRef": {}}}, "elasticsearch.elasticsearchRef.name is required"),
        (
            {"elasticsearch": {"elasticsearchRef": {"name": "q"}, "credentialsSecretRef": {"name": "c"}}},
            "only allowed with elasticsearch.url",
        ),
        ({"elasticsearch": {"url": "https://es", "caSecretRef": {}}}, "elasticsearch.caSecretRef.name is required"),
        ({"elasticsearch": {"url": "https://es", "insecureSkipTLSVerify": "no"}}, "insecureSkipTLSVerify must be"),
        ({"startPolicy": "Always"}, "startPolicy must be one of IfMissing, Never, got 'Always'"),
        ({"deletionPolicy": "Delete"}, "deletionPolicy must be one of Retain, Stop"),
        ({"paused": "yes"}, "paused must be true or false"),
    ],
)
def test_invalid_specs_raise_spec_error(patch: dict[str, Any], fragment: str) -> None:
    raw = dict(BASE)
    for key, value in patch.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    with pytest.raises(SpecError) as caught:
        parse_spec(raw)
    assert caught.value.reason == "InvalidSpec"
    assert fragment in caught.value.message
    assert str(caught.value) == caught.value.message


def test_spec_that_is_not_a_mapping() -> None:
    with pytest.raises(SpecError, match="spec must be an object"):
        parse_spec(["modelId"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("0b", 0),
        ("1630b", 1630),
        ("10kb", 10240),
        ("1.5kb", 1536),
        ("20mb", 20 * 1024**2),
        ("2G", 2 * 1024**3),
    ],
)
def test_parse_byte_size(text: str, size: int) -> None:
    assert parse_byte_size(text) == size


@pytest.mark.parametrize("text", ["", "12", "ten kb", "5xb"])
def test_parse_byte_size_rejects(text: str) -> None:
    assert parse_byte_size(text) is None


@pytest.mark.parametrize(
    ("size", "human"),
    [(0, "0b"), (1023, "1023b"), (1024, "1kb"), (1630, "1.5kb"), (10240, "10kb"), (265632637, "253.3mb")],
)
def test_human_byte_size_matches_elasticsearch(size: int, human: str) -> None:
    assert human_byte_size(size) == human


@pytest.mark.parametrize(
    ("spec_value", "reported", "same"),
    [
        ("1630b", "1.5kb", True),
        ("10kb", "10kb", True),
        ("0", "0b", True),
        ("10kb", "1.5kb", False),
        ("20mb", "10mb", False),
    ],
)
def test_same_byte_size(spec_value: str, reported: str, same: bool) -> None:
    assert same_byte_size(spec_value, reported) is same
