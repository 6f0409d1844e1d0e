"""Placement of populations: contiguous, chunk-aligned, balanced blocks."""

import numpy as np

from ekklesia.runtime.population_placement import CHUNK, lay_out


def test_blocks_are_balanced_and_cut_on_chunk_boundaries() -> None:
    layout = lay_out([("players", 1_000_000, 0), ("moderator", 1, 1)], 2)
    assert layout.hosts == ("host-0", "host-1")
    (a,), (b, m) = layout.slices
    assert (a.start, a.stop) == (0, b.start) and b.stop == 1_000_000
    assert b.start % CHUNK == 0 and abs(len(a) - len(b)) <= CHUNK
    assert len(m) == 1 and layout.populations[m.population].first_id == 1_000_000
    assert layout.describe()["host-1"] == [f"players[{b.start}:1000000]", "moderator"]
    assert layout.host_of(np.asarray([0, b.start - 1, b.start, 1_000_000])).tolist() == [0, 0, 1, 1]
    assert layout.hosts_of_population(0) == (0, 1) and layout.phases == (0, 1)


def test_fewer_hosts_when_there_is_too_little_to_split() -> None:
    layout = lay_out([("a", 10, 0), ("b", 3, 0)], 4)
    assert len(layout.hosts) == 2  # two chunks: one population each
    assert [[(s.population, s.start, s.stop) for s in held] for held in layout.slices] == [
        [(0, 0, 10)],
        [(1, 0, 3)],
    ]
    single = lay_out([("a", 5000, 0)], 1)
    assert single.slices == ((single.slices[0][0],),) and len(single.slices[0][0]) == 5000
