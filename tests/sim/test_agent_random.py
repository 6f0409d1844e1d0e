"""Per-agent random numbers: the same for an agent whichever slice it is stepped in."""

import numpy as np

from ekklesia.core.agent_random import AgentRandom


def draws(index: np.ndarray) -> list[np.ndarray]:
    rng = AgentRandom.for_step(7, "players", 3, 0, index)
    return [rng.uniform(), rng.normal(10.0, 2.0), rng.integers(0, 6), rng.bernoulli(0.3)]


def test_draws_do_not_depend_on_how_agents_are_sliced() -> None:
    whole = draws(np.arange(0, 10_000))
    left, right = draws(np.arange(0, 4096)), draws(np.arange(4096, 10_000))
    for a, b, c in zip(whole, left, right, strict=True):
        assert np.array_equal(a, np.concatenate([b, c]))


def test_draws_look_random_and_differ_by_key() -> None:
    index = np.arange(200_000)
    u, z, k, b = draws(index)
    assert abs(u.mean() - 0.5) < 0.01 and u.min() >= 0.0 and u.max() < 1.0
    assert abs(z.mean() - 10.0) < 0.05 and abs(z.std() - 2.0) < 0.05
    assert set(np.unique(k).tolist()) == {0, 1, 2, 3, 4, 5}
    assert abs(b.mean() - 0.3) < 0.01
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01  # neighbours are not correlated
    other = AgentRandom.for_step(7, "players", 4, 0, index).uniform()
    assert not np.array_equal(u, other) and abs(np.corrcoef(u, other)[0, 1]) < 0.01
