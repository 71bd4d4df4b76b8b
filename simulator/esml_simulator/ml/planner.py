"""Places allocations x threads on ML nodes within processor and memory capacity."""

from __future__ import annotations

from dataclasses import dataclass

from esml_simulator.ml.state import MAX_LOW_PRIORITY_PER_NODE, NATIVE_CODE_OVERHEAD, Deployment, Node
from esml_simulator.units import human_bytes


@dataclass
class NodeUsage:
    node: Node
    processors_used: int = 0
    memory_used: int = 0
    low_priority: int = 0
    hosts_ml: bool = False

    @property
    def assignable(self) -> bool:
        """A node shutting down takes no new allocations (Elasticsearch leaves it out of the plan)."""
        return self.node.status != "shutting_down"

    @property
    def free_processors(self) -> int:
        return self.node.processors - self.processors_used

    @property
    def free_memory(self) -> int:
        return self.node.memory - self.memory_used


def usage(nodes: list[Node], deployments: list[Deployment]) -> dict[str, NodeUsage]:
    table = {n.id: NodeUsage(n) for n in nodes if n.in_cluster}
    for dep in deployments:
        for route in dep.routes.values():
            use = table.get(route.node_id)
            if use is None:
                continue
            if not use.hosts_ml:
                use.hosts_ml = True
                use.memory_used += NATIVE_CODE_OVERHEAD
            use.memory_used += dep.memory
            if dep.priority == "low":
                use.low_priority += 1
            else:
                use.processors_used += max(route.target, route.current) * dep.threads
    return table


def _why(use: NodeUsage, dep: Deployment, hosts: bool) -> str | None:
    needed = 0 if hosts else dep.memory + (0 if use.hosts_ml else NATIVE_CODE_OVERHEAD)
    if use.free_memory < needed:
        return (
            "This node has insufficient available memory. "
            f"Available memory for ML [{human_bytes(use.node.memory)} ({use.node.memory})], "
            f"free memory [{human_bytes(max(0, use.free_memory))} ({max(0, use.free_memory)})], "
            f"estimated memory required for this model [{human_bytes(dep.memory)} ({dep.memory})]."
        )
    if dep.priority == "low":
        if hosts or use.low_priority >= MAX_LOW_PRIORITY_PER_NODE:
            return "This node has reached the maximum number of low priority deployments"
        return None
    if use.free_processors < dep.threads:
        return (
            "This node has insufficient allocated processors. "
            f"Available processors [{use.node.processors}], free processors [{max(0, use.free_processors)}], "
            f"processors required for each allocation of this model [{dep.threads}]"
        )
    return None


@dataclass
class Placement:
    added: dict[str, int]
    placed: int
    explanation: str | None


def place(nodes: list[Node], others: list[Deployment], dep: Deployment, count: int) -> Placement:
    """Find room for ``count`` more allocations of ``dep``; greedy, spreading over nodes."""
    table = usage(nodes, [*others, dep])
    if not any(u.assignable for u in table.values()):
        return Placement({}, 0, "No ML nodes exist in the cluster" if count > 0 else None)
    added: dict[str, int] = {}
    placed = 0
    while placed < count:
        best: NodeUsage | None = None
        best_key: tuple[int, int, int] | None = None
        for use in table.values():
            hosts = use.node.id in dep.routes or use.node.id in added
            if not use.assignable or _why(use, dep, hosts) is not None:
                continue
            key = (use.free_processors, 1 if hosts else 0, -use.node.index)
            if best_key is None or key > best_key:
                best, best_key = use, key
        if best is None:
            break
        node_id = best.node.id
        if node_id not in dep.routes and node_id not in added:
            if not best.hosts_ml:
                best.hosts_ml = True
                best.memory_used += NATIVE_CODE_OVERHEAD
            best.memory_used += dep.memory
            if dep.priority == "low":
                best.low_priority += 1
        if dep.priority != "low":
            best.processors_used += dep.threads
        added[node_id] = added.get(node_id, 0) + 1
        placed += 1
    explanation = None
    if placed < count:
        reasons = []
        for use in sorted((u for u in table.values() if u.assignable), key=lambda u: u.node.id):
            hosts = use.node.id in dep.routes or use.node.id in added
            why = _why(use, dep, hosts)
            if why:
                reasons.append(f"Could not assign (more) allocations on node [{use.node.id}]. Reason: {why}")
        explanation = "|".join(reasons) or "No ML nodes exist in the cluster"
    return Placement(added, placed, explanation)


def choose_reductions(dep: Deployment, remove: int) -> dict[str, int]:
    """Which routes lose allocations on a decrease: empty whole (small) nodes first."""
    plan: dict[str, int] = {}
    routes = sorted(dep.routes.values(), key=lambda r: (r.target, r.node_id))
    for route in routes:
        if remove <= 0:
            break
        take = min(route.target, remove)
        plan[route.node_id] = take
        remove -= take
    return plan
