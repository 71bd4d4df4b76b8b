"""spec.elasticsearch.cloudId: decoding Elastic Cloud ids, and the connection built from one.

Cloud ids look like what the Elastic Cloud console shows: ``<deployment
name>:<base64 of "<host>[:<port>]$<elasticsearch id>$<kibana id>">``. The
decoder is checked against the official Python client's own parser
(``elastic_transport.client_utils.parse_cloud_id``) on every id both accept.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest
from elastic_transport.client_utils import parse_cloud_id
from hypothesis import given
from hypothesis import strategies as st

from esml_operator.controller.connect import Resolved, resolve, selector_for
from esml_operator.elasticsearch.connections import ApiKeyAuth
from esml_operator.kube.api import SecretData
from esml_operator.reconcile import ConfigProblem, SpecError, parse_spec
from esml_operator.reconcile.spec import CloudIdError, cloud_id_url
from esml_operator.settings import Settings
from tests.unit.runtime_fakes import FakeKube

# The example in Elastic's documentation of the Python client and of Cloud ids.
DOCS_CLOUD_ID = (
    "my-deployment:dXMtZWFzdC0xLmF3cy5mb3VuZC5pbyRjZWM2ZjI2MWE3NGJmMjRjZTMzYmI4ODExYjg0Mjk0Zi"
    "RjNmMyY2E2ZDA0MjI0OWFmMGNjN2Q3YTllOTYyNTc0Mw=="
)
ES_ID = "e7de9f1424304cb59b05f19c449412e8"
KIBANA_ID = "2f5146079f1d4db3b22f348a37fc82fe"


def cloud_id(decoded: str, name: str | None = "prod-search") -> str:
    encoded = base64.b64encode(decoded.encode()).decode()
    return encoded if name is None else f"{name}:{encoded}"


def official(cid: str) -> str:
    """The URL the official Python client connects to for ``cid``."""
    parsed = parse_cloud_id(cid)
    assert parsed.es_address is not None
    host, port = parsed.es_address
    return f"https://{host}:{port}"


# -- decoding ---------------------------------------------------------------------------------------

DECODED = {
    "documentation example": (DOCS_CLOUD_ID, "https://cec6f261a74bf24ce33bb8811b84294f.us-east-1.aws.found.io:443"),
    "port on the host": (
        cloud_id(f"westeurope.azure.elastic-cloud.com:9243${ES_ID}${KIBANA_ID}"),
        f"https://{ES_ID}.westeurope.azure.elastic-cloud.com:9243",
    ),
    "explicit 443": (
        cloud_id(f"us-central1.gcp.cloud.es.io:443${ES_ID}${KIBANA_ID}"),
        f"https://{ES_ID}.us-central1.gcp.cloud.es.io:443",
    ),
    "no kibana id": (cloud_id(f"eu-west-1.aws.found.io${ES_ID}"), f"https://{ES_ID}.eu-west-1.aws.found.io:443"),
    "empty kibana id": (cloud_id(f"eu-west-1.aws.found.io${ES_ID}$"), f"https://{ES_ID}.eu-west-1.aws.found.io:443"),
}


@pytest.mark.parametrize("case", sorted(DECODED))
def test_real_format_ids_decode_as_the_official_client_does(case: str) -> None:
    cid, url = DECODED[case]
    assert cloud_id_url(cid) == url
    assert official(cid) == url


def test_deployment_name_is_optional_and_may_contain_colons() -> None:
    decoded = f"us-east-1.aws.found.io${ES_ID}${KIBANA_ID}"
    expected = f"https://{ES_ID}.us-east-1.aws.found.io:443"
    assert cloud_id_url(cloud_id(decoded, name=None)) == expected  # as the Java client and Beats accept
    assert cloud_id_url(cloud_id(decoded, name="Search team:prod")) == expected
    assert cloud_id_url(cloud_id(decoded, name="")) == expected
    assert cloud_id_url("  " + cloud_id(decoded) + "\n") == expected  # pasted with whitespace


def test_missing_padding_is_tolerated() -> None:
    cid = cloud_id(f"us-east-1.aws.found.io${ES_ID}${KIBANA_ID}x")
    assert cid.endswith("=")
    assert cloud_id_url(cid.rstrip("=")) == cloud_id_url(cid)


def test_a_port_on_the_elasticsearch_id_wins_as_in_beats() -> None:
    cid = cloud_id(f"eu-west-1.aws.found.io:443${ES_ID}:9243${KIBANA_ID}:9244")
    assert cloud_id_url(cid) == f"https://{ES_ID}.eu-west-1.aws.found.io:9243"


MALFORMED = {
    "not base64": ("prod:not*base64!", "not base64 text"),
    "nothing after the name": ("prod:", "nothing follows the deployment name"),
    "no dollar": (cloud_id("us-east-1.aws.found.io"), "decodes to no Elasticsearch id"),
    "empty elasticsearch id": (cloud_id("us-east-1.aws.found.io$$kibana"), "decodes to no Elasticsearch id"),
    "empty host": (cloud_id(f"${ES_ID}$k"), "decodes to the host '', which is not a DNS name"),
    "host with a scheme": (cloud_id(f"https://host${ES_ID}$k"), "port '//host' is not a number"),
    "host with a path": (cloud_id(f"host/path${ES_ID}$k"), "host 'host/path', which is not a DNS name"),
    "port not a number": (cloud_id(f"host:https${ES_ID}$k"), "port 'https' is not a number from 1 to 65535"),
    "port 0": (cloud_id(f"host:0${ES_ID}$k"), "port '0' is not a number"),
    "port too big": (cloud_id(f"host:70000${ES_ID}$k"), "port '70000' is not a number"),
    "elasticsearch id with a dot": (cloud_id("host$a.b$k"), "Elasticsearch id 'a.b', which is not a DNS label"),
    "not utf-8": ("prod:" + base64.b64encode(b"\xff\xfe$\xff").decode(), "not base64 text"),
    "a url instead": ("https://es.example.com:9243", "not base64 text"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_ids_raise_a_clear_error(case: str) -> None:
    cid, message = MALFORMED[case]
    with pytest.raises(CloudIdError) as caught:
        cloud_id_url(cid)
    assert message in str(caught.value)


dns_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
hosts = st.lists(dns_label, min_size=1, max_size=4).map(".".join)
ids = st.text(alphabet="0123456789abcdef", min_size=8, max_size=32)
ports = st.none() | st.integers(min_value=1, max_value=65535)
names = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)


@given(host=hosts, es_id=ids, kibana_id=ids, port=ports, name=names)
def test_agrees_with_the_official_client_on_well_formed_ids(
    host: str, es_id: str, kibana_id: str, port: int | None, name: str
) -> None:
    cid = cloud_id(f"{host}{'' if port is None else f':{port}'}${es_id}${kibana_id}", name=name)
    assert cloud_id_url(cid) == official(cid) == f"https://{es_id}.{host}:{port or 443}"


@given(st.text(max_size=60))
def test_never_crashes_on_arbitrary_text(text: str) -> None:
    try:
        url = cloud_id_url(text)
    except CloudIdError:
        return
    assert url.startswith("https://")


# -- the spec and the connection ----------------------------------------------------------------------


def spec_with(elasticsearch: Mapping[str, Any]) -> Any:
    return parse_spec({"modelId": "elser", "elasticsearch": dict(elasticsearch)})


def test_cloud_id_is_one_of_the_three_connection_forms() -> None:
    parsed = spec_with({"cloudId": DOCS_CLOUD_ID, "credentialsSecretRef": {"name": "cloud-key"}})
    assert parsed.connection.cloud_id == DOCS_CLOUD_ID
    assert parsed.connection.url is None and parsed.connection.elasticsearch_ref is None
    assert parsed.connection.credentials_secret_ref is not None
    for both in ({"url": "https://es:9200"}, {"elasticsearchRef": {"name": "quickstart"}}):
        with pytest.raises(SpecError, match="exactly one of elasticsearchRef, url or cloudId"):
            spec_with({"cloudId": DOCS_CLOUD_ID, **both})
    # A malformed id is not a spec error: resolve() reports it as a config problem with its own reason.
    assert spec_with({"cloudId": "prod:garbage"}).connection.cloud_id == "prod:garbage"


class SecretsKube(FakeKube):
    def __init__(self, secrets: dict[tuple[str, str], dict[str, bytes]]) -> None:
        super().__init__()
        self.secrets = secrets
        self.reads: list[tuple[str, str]] = []

    async def read_secret(self, namespace: str, name: str, *, fresh: bool = False) -> SecretData | None:
        self.reads.append((namespace, name))
        data = self.secrets.get((namespace, name))
        return None if data is None else SecretData("7", data)


SETTINGS = Settings.load(["--all-namespaces"], {})
API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="


async def test_cloud_id_connects_to_the_decoded_url_with_the_api_key() -> None:
    kube = SecretsKube({("ml", "cloud-key"): {"api_key": API_KEY.encode()}})
    parsed = spec_with({"cloudId": DOCS_CLOUD_ID, "credentialsSecretRef": {"name": "cloud-key"}})
    resolved = await resolve(parsed, "ml", kube, SETTINGS)
    assert isinstance(resolved, Resolved)
    assert resolved.config.url == "https://cec6f261a74bf24ce33bb8811b84294f.us-east-1.aws.found.io:443"
    assert resolved.config.auth == ApiKeyAuth(API_KEY)
    assert resolved.config.ca_pem is None  # Elastic Cloud certificates are publicly trusted
    assert resolved.secrets == (("ml", "cloud-key", "7"),)
    assert selector_for(parsed, "search") == "esml.io/model-deployment=search"


async def test_cloud_id_uses_a_ca_secret_like_url() -> None:
    kube = SecretsKube({("ml", "cloud-key"): {"api_key": b"id:key"}, ("ml", "proxy-ca"): {"ca.crt": b"PEM"}})
    parsed = spec_with(
        {
            "cloudId": cloud_id(f"localhost:9243${ES_ID}$"),
            "credentialsSecretRef": {"name": "cloud-key"},
            "caSecretRef": {"name": "proxy-ca"},
        }
    )
    resolved = await resolve(parsed, "ml", kube, SETTINGS)
    assert isinstance(resolved, Resolved)
    assert resolved.config.url == f"https://{ES_ID}.localhost:9243"
    assert resolved.config.ca_pem == b"PEM"


async def test_malformed_cloud_id_is_a_config_problem_not_a_crash() -> None:
    kube = SecretsKube({("ml", "cloud-key"): {"api_key": API_KEY.encode()}})
    parsed = spec_with({"cloudId": cloud_id("us-east-1.aws.found.io"), "credentialsSecretRef": {"name": "cloud-key"}})
    problem = await resolve(parsed, "ml", kube, SETTINGS)
    assert problem == ConfigProblem(
        "InvalidCloudId",
        "elasticsearch.cloudId is not a valid Elastic Cloud id: it decodes to no Elasticsearch id "
        "(expected <host>$<elasticsearch id>$<kibana id>)",
    )
    assert kube.reads == []  # decided before any Secret is read
    assert API_KEY not in problem.message


async def test_missing_credentials_secret_is_reported_for_cloud_ids_too() -> None:
    parsed = spec_with({"cloudId": DOCS_CLOUD_ID, "credentialsSecretRef": {"name": "cloud-key"}})
    problem = await resolve(parsed, "ml", SecretsKube({}), SETTINGS)
    assert problem == ConfigProblem("SecretNotFound", "credentials Secret ml/cloud-key not found")
