"""Path matching as Elasticsearch's REST layer does it; the routes themselves are in ``esml_simulator.api.routes``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from esml_simulator.rest.request import Handler
from esml_simulator.versions import EsVersion


@dataclass(frozen=True)
class Route:
    pattern: tuple[str, ...]
    methods: dict[str, tuple[Handler, str]]
    available: Callable[[EsVersion], bool] = lambda v: True

    @property
    def wildcards(self) -> int:
        return sum(1 for part in self.pattern if part.startswith("{"))

    def match(self, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        params: dict[str, str] = {}
        for part, seg in zip(self.pattern, segments, strict=True):
            if part.startswith("{"):
                if not seg:
                    return None
                params[part[1:-1]] = seg
            elif part != seg:
                return None
        return params


def route(
    path: str, methods: dict[str, tuple[Handler, str]], available: Callable[[EsVersion], bool] | None = None
) -> Route:
    """A route for ``path`` (``{name}`` segments are parameters), available in the versions ``available`` accepts."""
    pattern = tuple(s for s in path.split("/") if s)
    return Route(pattern, methods, available or (lambda v: True))


@dataclass
class Match:
    route: Route | None
    params: dict[str, str]
    allowed: list[str]
    method: str = ""

    @property
    def endpoint(self) -> str:
        """The fault-injection name of the matched API (``any`` when none matched)."""
        if self.route is None or self.method not in self.route.methods:
            return "any"
        return self.route.methods[self.method][1]


def resolve(routes: Sequence[Route], path: str, method: str, version: EsVersion) -> Match:
    """Like Elasticsearch's path trie: a path with fewer wildcards wins; its methods decide (else 405)."""
    segments = [s for s in path.split("/") if s] if path != "/" else []
    candidates = []
    for route in routes:
        if not route.available(version):
            continue
        params = route.match(segments)
        if params is not None:
            candidates.append((route, params))
    if not candidates:
        return Match(None, {}, [], method)
    fewest = min(route.wildcards for route, _ in candidates)
    allowed: list[str] = []
    for route, params in candidates:
        if route.wildcards != fewest:
            continue
        if method in route.methods:
            return Match(route, params, [], method)
        allowed.extend(m for m in route.methods if m not in allowed)
    return Match(None, {}, allowed, method)
