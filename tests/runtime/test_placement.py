import pytest

import ekklesia as ek
from ekklesia.patterns.graph import build_graph
from ekklesia.runtime.placement import place


def test_small_swarms_get_a_host_per_agent_and_large_ones_k_hosts() -> None:
    assert place(["b", "a"]) == {"host-a": ["a"], "host-b": ["b"]}
    names = [f"n{i:02d}" for i in range(40)]
    placement = place(names, cpus=2)
    assert len(placement) == 2 and sorted(n for names in placement.values() for n in names) == names
    assert place(names, "single") == {"host-0": names}


def test_k_hosts_keep_graph_neighbours_together() -> None:
    names = [f"n{i:02d}" for i in range(12)]
    graph = build_graph("chain", names)
    placement = place(names, 3, graph=graph)
    assert list(placement.values()) == [names[0:4], names[4:8], names[8:12]]
    assert len(place(names[:2], 5)) == 2  # never more hosts than agents


@pytest.mark.parametrize("bad", [0, -1, "many", True])
def test_bad_placements(bad: object) -> None:
    with pytest.raises(ek.SpecError):
        place(["a"], bad)  # type: ignore[arg-type]
