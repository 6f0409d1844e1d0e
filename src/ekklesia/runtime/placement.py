"""Placement: which host actor holds which agent.

``per_agent`` gives every agent its own host (the default for swarms of up to
:data:`PER_AGENT_LIMIT` agents); ``single`` puts every agent on one host; an integer K spreads the
agents over K hosts in contiguous blocks of a breadth-first order of the debate graph, so that
neighbours tend to share a host and their messages never cross Ray. ``auto`` picks ``per_agent``
for small swarms and K = the CPUs Ray has for larger ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx

from ekklesia.errors import SpecError

__all__ = ["PER_AGENT_LIMIT", "Placement", "check_placement", "place"]

PER_AGENT_LIMIT = 16
Placement = dict[str, list[str]]


def _graph_order(agents: Sequence[str], graph: nx.DiGraph | None) -> list[str]:
    if graph is None:
        return sorted(agents)
    undirected = graph.to_undirected(as_view=True)
    order: list[str] = []
    seen: set[str] = set()
    for start in sorted(agents):
        if start in seen:
            continue
        for node in (
            nx.bfs_tree(undirected, start, sort_neighbors=sorted)
            if start in undirected
            else [start]
        ):
            if node not in seen:
                seen.add(node)
                order.append(node)
    return order


def check_placement(mode: str | int) -> str | int:
    """``mode`` itself if it names a placement, else a :class:`SpecError`."""
    if mode in ("auto", "per_agent", "single"):
        return mode
    if isinstance(mode, bool) or not isinstance(mode, int) or mode < 1:
        raise SpecError(
            "placement must be 'auto', 'per_agent', 'single' or a number of hosts >= 1, "
            f"got {mode!r}"
        )
    return mode


def place(
    agents: Sequence[str],
    mode: str | int = "auto",
    *,
    graph: nx.DiGraph | None = None,
    cpus: int = 2,
) -> Placement:
    """Host id → the agents it holds."""
    names = list(agents)
    mode = check_placement(mode)
    if not names:
        return {}
    if mode == "auto":
        mode = "per_agent" if len(names) <= PER_AGENT_LIMIT else max(1, cpus)
    if mode == "per_agent":
        return {f"host-{name}": [name] for name in sorted(names)}
    if mode == "single":
        return {"host-0": sorted(names)}
    assert isinstance(mode, int)
    hosts = min(mode, len(names))
    order = _graph_order(names, graph)
    size, extra = divmod(len(order), hosts)
    placement: Placement = {}
    start = 0
    for k in range(hosts):
        end = start + size + (1 if k < extra else 0)
        placement[f"host-{k}"] = order[start:end]
        start = end
    return placement
