"""REST handlers: ``GET _ml/info``, ``GET _ml/memory/_stats`` and ``GET _ml/memory/{node_id}/_stats``."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

from esml_simulator.ml.capacity import limits, node_memory
from esml_simulator.ml.ml_info import info_body, memory_body
from esml_simulator.ml.state import Node
from esml_simulator.rest.request import Action, RestRequest, Result
from esml_simulator.security.privileges import ACTION_ML_INFO, ACTION_ML_MEMORY_STATS

if TYPE_CHECKING:
    from esml_simulator.ml.engine import Engine


def prepare_info(engine: Engine, req: RestRequest) -> Action:
    async def action() -> Result:
        engine.authorize(req.principal, ACTION_ML_INFO)
        cluster = engine.cluster
        cluster.advance()
        return 200, info_body(engine.version, limits(cluster.settings.scaling, cluster.nodes))

    return action


def resolve_nodes(nodes: list[Node], expression: str | None) -> set[str]:
    """Node ids an expression names, as ``DiscoveryNodes.resolveNodes`` reads it: comma-separated ids or
    names, ``_all``/``*``, wildcards; an unknown name matches nothing (no error)."""
    if not expression:
        return {n.id for n in nodes}
    chosen: set[str] = set()
    for token in (t.strip() for t in expression.split(",") if t.strip()):
        if token in ("_all", "*"):
            chosen.update(n.id for n in nodes)
            continue
        chosen.update(n.id for n in nodes if fnmatch.fnmatchcase(n.id, token) or fnmatch.fnmatchcase(n.name, token))
    return chosen


def prepare_memory_stats(engine: Engine, req: RestRequest) -> Action:
    q = req.query
    q.time("timeout")
    q.time("master_timeout")
    expression = req.path_params.get("node_id")

    async def action() -> Result:
        engine.authorize(req.principal, ACTION_ML_MEMORY_STATS)
        cluster = engine.cluster
        cluster.advance()
        wanted = resolve_nodes(cluster.ml_nodes, expression)
        stats = [m for m in node_memory(cluster.nodes, list(cluster.deployments.values())) if m.node.id in wanted]
        return 200, memory_body(engine.config.cluster_name, stats, engine.version, req.human)

    return action
