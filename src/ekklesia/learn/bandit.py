"""Thompson sampling on an objective, with the propensity of every choice.

Why a Normal-Inverse-Gamma posterior: the objective is any expression over a run's accuracy,
score, USD and tokens (``accuracy - 200 * usd``), so a run's value is not 0/1 and a Beta posterior
on accuracy alone would ignore the cost; a Gaussian with unknown mean *and* variance fits any such
value, is conjugate (the posterior is four running sums per strategy, so a restarted learner
rebuilds it exactly from its log), and its marginal for the mean is a Student t, whose heavy tails
keep a strategy with few runs in play. The prior (``m0 = 0``, ``k0 = 0.01``, ``a0 = 1``,
``b0 = 0.1``) is weak: after a run or two the data dominate. A cheap strategy wins under a
cost-aware objective exactly when its value — accuracy less its cost — is as good.

Each choice mixes in a little uniform exploration, ``eps_t = 0.1 / sqrt(1 + t / 10)`` at decision
``t``: it makes every strategy's probability of being chosen positive at every decision, which is
what off-policy estimates from the log need, while the total spent exploring grows only as
``sqrt(t)`` (the regret stays sublinear). The probability of the choice is
``eps_t / K + (1 - eps_t) * P(strategy's draw is the largest)``, the second term estimated by
Monte-Carlo over ``DRAWS`` posterior draws. Every random number comes from a generator seeded by
``(seed, t)``: the same log and seed give the same choice and the same propensity, in any process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats  # type: ignore[import-untyped]

from ekklesia.core.seeds import stable_seed

__all__ = ["DRAWS", "Choice", "Posterior", "choose", "exploration"]

DRAWS = 4000
M0, K0, A0, B0 = 0.0, 0.01, 1.0, 0.1
EXPLORE = 0.1


@dataclass(frozen=True)
class Posterior:
    """The Normal-Inverse-Gamma posterior of one strategy's mean objective."""

    n: int = 0
    total: float = 0.0
    squares: float = 0.0

    def add(self, value: float) -> Posterior:
        return Posterior(self.n + 1, self.total + value, self.squares + value * value)

    @property
    def params(self) -> tuple[float, float, float, float]:
        """``(m, k, a, b)`` after the runs seen."""
        if self.n == 0:
            return M0, K0, A0, B0
        mean = self.total / self.n
        spread = max(0.0, self.squares - self.n * mean * mean)
        k = K0 + self.n
        m = (K0 * M0 + self.total) / k
        a = A0 + self.n / 2
        b = B0 + 0.5 * spread + K0 * self.n * (mean - M0) ** 2 / (2 * k)
        return m, k, a, b

    @property
    def mean(self) -> float | None:
        """The posterior mean of the objective; None before any run."""
        return self.params[0] if self.n else None

    def interval(self, level: float = 0.95) -> tuple[float, float] | None:
        """A central credible interval for the mean (Student t); None before any run."""
        if not self.n:
            return None
        m, k, a, b = self.params
        scale = math.sqrt(b / (a * k))
        half = float(stats.t.ppf(0.5 + level / 2, df=2 * a)) * scale
        return m - half, m + half

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        m, k, a, b = self.params
        variance = b / rng.gamma(a, 1.0, size=size)
        return m + rng.standard_normal(size) * np.sqrt(variance / k)


@dataclass(frozen=True)
class Choice:
    """One decision: the strategy chosen, and every candidate's probability of being chosen."""

    decision: int
    strategy: str
    propensities: dict[str, float]

    @property
    def propensity(self) -> float:
        return self.propensities[self.strategy]


def exploration(decision: int) -> float:
    return EXPLORE / math.sqrt(1 + decision / 10)


def choose(posteriors: Sequence[tuple[str, Posterior]], decision: int, seed: int) -> Choice:
    """Thompson sampling with a little uniform exploration; see the module docstring."""
    names = [name for name, _ in posteriors]
    k = len(names)
    eps = exploration(decision)
    rng = np.random.default_rng(stable_seed("learner-choice", seed, decision) % 2**63)
    if rng.random() < eps:
        chosen = int(rng.integers(k))
    else:
        chosen = int(np.argmax([p.draw(rng, 1)[0] for _, p in posteriors]))
    mc = np.random.default_rng(stable_seed("learner-propensity", seed, decision) % 2**63)
    draws = np.stack([p.draw(mc, DRAWS) for _, p in posteriors])
    wins = np.bincount(np.argmax(draws, axis=0), minlength=k) / DRAWS
    propensities = {name: float(eps / k + (1 - eps) * wins[i]) for i, name in enumerate(names)}
    return Choice(decision, names[chosen], propensities)
