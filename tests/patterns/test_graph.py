import networkx as nx
import pytest

import ekklesia as ek
from ekklesia.patterns.graph import build_graph, validate_graph

NAMES = ["a", "b", "c", "d", "e"]


def edges(topology: str, names: list[str] = NAMES) -> set[tuple[str, str]]:
    return set(build_graph(topology, names).edges)


def test_topologies() -> None:
    assert len(edges("complete")) == 20
    assert (
        edges("ring") >= {("a", "b"), ("b", "a"), ("e", "a"), ("a", "e")}
        and len(edges("ring")) == 10
    )
    assert edges("chain") == {
        ("a", "b"),
        ("b", "a"),
        ("b", "c"),
        ("c", "b"),
        ("c", "d"),
        ("d", "c"),
        ("d", "e"),
        ("e", "d"),
    }
    assert edges("star") == {(h, x) for x in "bcde" for h in "a"} | {(x, "a") for x in "bcde"}
    tree = build_graph("tree", NAMES)
    assert set(tree.successors("a")) == {"b", "c"} and set(tree.successors("b")) == {"a", "d", "e"}
    assert edges("independent") == set()


def test_random_topology_is_seeded() -> None:
    g1 = build_graph("random:0.5", NAMES * 1, seed=1)
    assert set(g1.edges) == set(build_graph("random:0.5", NAMES, seed=1).edges)
    assert set(build_graph("random:0.5:9", NAMES, seed=1).edges) == set(
        build_graph("random:0.5:9", NAMES, seed=2).edges
    )
    assert len(edges("random:1.0")) == 20


@pytest.mark.parametrize("bad", ["mesh", "random", "random:0", "random:x", "random:0.5:1:2"])
def test_unknown_or_malformed_topologies(bad: str) -> None:
    with pytest.raises(ek.SpecError):
        build_graph(bad, NAMES)


def test_validation_names_the_problem() -> None:
    g = nx.DiGraph([("a", "b"), ("b", "a"), ("a", "zed")])
    with pytest.raises(ek.SpecError, match="unknown agents: zed"):
        validate_graph(g, ["a", "b"], rounds=2)
    with pytest.raises(ek.SpecError, match="missing from the debate graph: c"):
        validate_graph(nx.DiGraph([("a", "b"), ("b", "a")]), ["a", "b", "c"], rounds=2)
    with pytest.raises(ek.SpecError, match="hear no one: a"):
        validate_graph(nx.DiGraph([("a", "b")]), ["a", "b"], rounds=2)
    validate_graph(nx.DiGraph([("a", "b")]), ["a", "b"], rounds=1)  # one round needs no listeners
    with pytest.raises(ek.SpecError, match="at least one"):
        validate_graph(nx.DiGraph(), [], rounds=1)
    with pytest.raises(ek.SpecError, match="self-loops"):
        validate_graph(nx.DiGraph([("a", "a"), ("b", "a"), ("a", "b")]), ["a", "b"], rounds=2)


def test_swarm_rejects_bad_graphs_before_starting_anything() -> None:
    agents = [ek.Agent(n) for n in "xyz"]
    with pytest.raises(ek.SpecError, match="hear no one"):
        ek.Swarm(agents, graph=nx.DiGraph([("x", "y"), ("y", "x"), ("z", "x")]), rounds=2)
    with pytest.raises(ek.SpecError, match="unknown topology"):
        ek.Swarm(agents, graph="hypercube")
    with pytest.raises(ek.SpecError, match="rounds must be"):
        ek.Swarm(agents, rounds=0)
    with pytest.raises(ek.SpecError, match="unique"):
        ek.Swarm([ek.Agent("x"), ek.Agent("x")])
    with pytest.raises(ek.SpecError, match="judge"):
        ek.Swarm(agents, aggregate="judge")
    with pytest.raises(ek.SpecError, match="aggregation"):
        ek.Swarm(agents, aggregate="borda")
    with pytest.raises(ek.SpecError, match="placement"):
        ek.Swarm(agents, placement=0)
