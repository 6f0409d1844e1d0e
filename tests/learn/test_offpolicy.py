"""Off-policy estimates from logged propensities: unbiased on a known world; refused when the
logs cannot support them."""

import random

import pytest

from ekklesia.learn.offpolicy import CannotEstimate, Logged, estimate

TRUE = {"a": 0.3, "b": 0.7, "c": 0.5}


def log_under(policy: dict[str, float], n: int, seed: int = 0) -> list[Logged]:
    """Runs chosen at random with known probabilities, outcomes 0/1 with the true means."""
    rng = random.Random(seed)
    names = list(policy)
    logs = []
    for i in range(n):
        chosen = rng.choices(names, weights=[policy[s] for s in names])[0]
        value = float(rng.random() < TRUE[chosen])
        logs.append(Logged(f"run-{i}", chosen, dict(policy), "accuracy", value))
    return logs


def test_ips_and_dr_recover_a_rarely_chosen_strategy() -> None:
    logs = log_under({"a": 0.1, "b": 0.8, "c": 0.1}, 4000)
    found = estimate("a", logs)
    assert found.ci[0] < TRUE["a"] < found.ci[1]
    assert found.ips_ci[0] < TRUE["a"] < found.ips_ci[1]
    assert abs(found.dr - TRUE["a"]) < 0.05 and abs(found.ips - TRUE["a"]) < 0.1
    assert found.ci[1] - found.ci[0] < found.ips_ci[1] - found.ips_ci[0]  # DR is tighter
    assert 0.05 * 4000 < found.ess < 0.15 * 4000  # about the runs that chose it
    assert found.runs == 4000 and found.chosen == sum(log.strategy == "a" for log in logs)


def test_more_logged_runs_give_a_narrower_interval() -> None:
    small = estimate("c", log_under({"a": 0.45, "b": 0.45, "c": 0.1}, 200))
    large = estimate("c", log_under({"a": 0.45, "b": 0.45, "c": 0.1}, 3200))
    assert large.ci[1] - large.ci[0] < (small.ci[1] - small.ci[0]) / 2


@pytest.mark.parametrize(
    ("strategy", "logs", "reason"),
    [
        ("a", log_under({"a": 0.5, "b": 0.5}, 5), "too few runs: 5 logged"),
        ("z", log_under({"a": 0.5, "b": 0.5}, 50), "'z' was not a candidate"),
        ("c", log_under({"a": 0.5, "b": 0.5, "c": 0.0}, 50), "zero propensity: in 50 of 50"),
        ("c", log_under({"a": 0.495, "b": 0.495, "c": 0.01}, 20, seed=1), "too few runs chose 'c'"),
    ],
)
def test_refused_with_the_reason(strategy: str, logs: list[Logged], reason: str) -> None:
    with pytest.raises(CannotEstimate, match=reason):
        estimate(strategy, logs)
