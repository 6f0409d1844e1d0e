"""Debate graphs: a ``networkx.DiGraph`` of agent names, where an edge u→v means v hears u.

Built-in topologies: ``complete``, ``ring``, ``star`` (the first agent is the hub), ``chain``,
``tree`` (binary, in agent order), ``random:P`` (each directed edge with probability P, seeded by
the swarm's seed, or ``random:P:SEED``), and ``independent`` (no edges: agents answer alone).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import networkx as nx

from ekklesia.errors import SpecError

__all__ = ["TOPOLOGIES", "build_graph", "validate_graph"]

TOPOLOGIES = ("complete", "ring", "star", "chain", "tree", "random:P", "independent")


def _both(graph: nx.DiGraph, u: str, v: str) -> None:
    graph.add_edge(u, v)
    graph.add_edge(v, u)


def build_graph(topology: str | nx.DiGraph, agents: Sequence[str], seed: int = 0) -> nx.DiGraph:
    """The debate graph for ``agents`` named by ``topology`` (or a copy of a given graph)."""
    if isinstance(topology, nx.DiGraph):
        return topology.copy()
    if isinstance(topology, nx.Graph):
        raise SpecError("the debate graph must be a networkx.DiGraph (edge u->v: v hears u)")
    if not isinstance(topology, str):
        raise SpecError(f"a topology must be a name or a networkx.DiGraph, got {topology!r}")
    names = list(agents)
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    kind, _, arg = topology.strip().partition(":")
    n = len(names)
    if kind == "complete":
        graph.add_edges_from((u, v) for u in names for v in names if u != v)
    elif kind == "independent":
        pass
    elif kind == "ring":
        for i in range(n):
            if n > 1 and names[i] != names[(i + 1) % n]:
                _both(graph, names[i], names[(i + 1) % n])
    elif kind == "chain":
        for u, v in itertools.pairwise(names):
            _both(graph, u, v)
    elif kind == "star":
        for leaf in names[1:]:
            _both(graph, names[0], leaf)
    elif kind == "tree":
        for i in range(1, n):
            _both(graph, names[(i - 1) // 2], names[i])
    elif kind == "random":
        p, edge_seed = _random_args(topology, arg, seed)
        rng = random.Random(edge_seed)
        graph.add_edges_from((u, v) for u in names for v in names if u != v and rng.random() < p)
    else:
        raise SpecError(f"unknown topology {topology!r} (known: {', '.join(TOPOLOGIES)})")
    return graph


def _random_args(topology: str, arg: str, seed: int) -> tuple[float, int]:
    parts = arg.split(":") if arg else []
    try:
        p = float(parts[0])
        edge_seed = int(parts[1]) if len(parts) > 1 else seed
    except (IndexError, ValueError):
        raise SpecError(
            f"bad topology {topology!r}: write random:P or random:P:SEED with 0 < P <= 1"
        ) from None
    if not 0.0 < p <= 1.0 or len(parts) > 2:
        raise SpecError(f"bad topology {topology!r}: P must be within (0, 1]")
    return p, edge_seed


def validate_graph(graph: nx.DiGraph, agents: Sequence[str], *, rounds: int) -> None:
    """Reject a graph that cannot run, naming the problem.

    Every debating agent must be a node and every node an agent; with more than one round, every
    agent must hear at least one other agent, or its later rounds would be a monologue.
    """
    names = set(agents)
    if not names:
        raise SpecError("a swarm needs at least one debating agent")
    nodes = set(graph.nodes)
    if unknown := sorted(nodes - names, key=str):
        raise SpecError(f"the debate graph names unknown agents: {', '.join(map(str, unknown))}")
    if missing := sorted(names - nodes):
        raise SpecError(f"agents missing from the debate graph: {', '.join(missing)}")
    if self_loops := sorted(str(u) for u, v in graph.edges if u == v):
        raise SpecError(f"the debate graph has self-loops on: {', '.join(self_loops)}")
    if rounds > 1:
        deaf = sorted(str(v) for v in graph.nodes if graph.in_degree(v) == 0)
        if deaf:
            raise SpecError(
                f"with {rounds} rounds every agent must hear another, but these hear no one: "
                f"{', '.join(deaf)} (add edges, choose another topology, or use rounds=1)"
            )
