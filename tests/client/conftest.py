from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from esml_operator.elasticsearch.client import ElasticsearchClient

from .fakes import FakeES

PASSWORD = "s3cr3t-Pa55w0rd!"
BASIC_TOKEN = base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()
BASE_URL = "https://quickstart-es-http.default.svc:9200"


@pytest.fixture
def fake() -> FakeES:
    return FakeES()


@pytest.fixture
async def es(fake: FakeES) -> AsyncIterator[ElasticsearchClient]:
    http = httpx.AsyncClient(
        base_url=BASE_URL,
        transport=fake.transport(),
        headers={"Authorization": f"Basic {BASIC_TOKEN}"},
    )
    client = ElasticsearchClient(http, redact=[PASSWORD, BASIC_TOKEN])
    yield client
    await client.aclose()
