"""The official client, set up to talk to a server of a given major version.

The 9.x client asks for ``compatible-with=9`` in ``Accept``/``Content-Type``;
an 8.x server refuses that, so for 8.x the transport asks for
``compatible-with=8`` instead (what an 8.x client sends).
"""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch


def client_for(url: str, version: str, auth: tuple[str, str]) -> AsyncElasticsearch:
    client = AsyncElasticsearch(url, basic_auth=auth, retry_on_timeout=False, max_retries=0)
    major = version.split(".")[0]
    transport = client.transport
    send = transport.perform_request

    async def perform_request(method: str, target: str, **kwargs: Any) -> Any:
        headers = kwargs.get("headers")
        if headers is not None:
            for name in ("accept", "content-type"):
                if name in headers:
                    headers[name] = headers[name].replace("compatible-with=9", f"compatible-with={major}")
        return await send(method, target, **kwargs)

    transport.perform_request = perform_request  # type: ignore[method-assign]
    return client
