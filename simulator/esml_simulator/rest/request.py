"""One parsed REST request as Elasticsearch's REST layer sees it, and the handler contract.

A handler ``prepare``s (parses path, query and body, like ``BaseRestHandler.prepareRequest``)
and returns an async *action*. The REST layer then rejects unconsumed parameters
and unread bodies before the action runs; the action does validation,
authorization and the work, like a transport action.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from esml_simulator.errors import EsError, illegal_argument
from esml_simulator.rest.params import Query
from esml_simulator.security.auth import Principal

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine

Result = tuple[int, Any]
Action = Callable[[], Awaitable[Result]]
Handler = Callable[["Engine", "RestRequest"], Action]


@dataclass
class RestRequest:
    method: str
    path: str
    uri: str
    query: Query
    body: bytes
    principal: Principal | None
    compat_major: int
    path_params: dict[str, str] = field(default_factory=dict)
    body_consumed: bool = False
    #: Extra response headers a handler sets (e.g. a deprecation ``Warning``).
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def has_content(self) -> bool:
        return len(self.body) > 0

    @property
    def human(self) -> bool:
        return self.query.flag("human")

    def json_body(self) -> Any:
        """Read and parse the body (marks it consumed)."""
        self.body_consumed = True
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            line = getattr(exc, "lineno", 1)
            col = getattr(exc, "colno", 1)
            raise EsError(400, "x_content_parse_exception", f"[{line}:{col}] Unexpected character: {exc}") from None

    def json_object(self, parser: str) -> dict[str, Any]:
        body = self.json_body()
        if not isinstance(body, dict):
            raise EsError(400, "x_content_parse_exception", f"[1:1] [{parser}] Expected START_OBJECT but was: VALUE")
        return body

    def check_consumed(self) -> None:
        self.query.check_unconsumed()
        if self.has_content and not self.body_consumed:
            raise illegal_argument(f"request [{self.method} {self.path}] does not support having a body")


def done(status: int, payload: Any) -> Action:
    async def action() -> Result:
        return status, payload

    return action
