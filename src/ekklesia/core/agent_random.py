"""Random numbers for a whole slice of a population at once, the same wherever agents are placed.

A population's agents may sit on one host or be split over many, so a slice cannot draw from one
shared generator: the numbers an agent got would depend on which agents happened to share its
host. :class:`AgentRandom` is counter-based instead: the ``k``-th draw of agent ``i`` in a step is
a hash (SplitMix64) of ``i`` and a key made of the seed, the population, the round, the phase and
``k`` — so it is the same for that agent whatever the slice, and costs a few vector operations per
draw. Every method returns one value per agent of the slice.

Uniform and integer draws use integer arithmetic and are identical on every machine; ``normal``
uses ``log`` and ``cos`` and is identical wherever numpy picks the same implementation of them
(always within one machine).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ekklesia.core.seeds import stable_seed

__all__ = ["AgentRandom", "splitmix64"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53

Floats = npt.NDArray[np.float64]


def splitmix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """The SplitMix64 finaliser, in place: a bijection of uint64 that mixes every bit."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


class AgentRandom:
    """Per-agent random draws for the agents ``index`` (population-local) of one step."""

    def __init__(self, key: int, index: npt.NDArray[np.int64]) -> None:
        self._key = key
        self._base = index.astype(np.uint64) * _GOLDEN
        self._draws = 0

    @classmethod
    def for_step(
        cls, seed: int, population: str, round: int, phase: int, index: npt.NDArray[np.int64]
    ) -> AgentRandom:
        return cls(stable_seed("agent-random", seed, population, round, phase), index)

    def __len__(self) -> int:
        return int(self._base.shape[0])

    def bits(self) -> npt.NDArray[np.uint64]:
        """64 random bits per agent; each call is a fresh, independent draw."""
        key = np.uint64(stable_seed(self._key, self._draws))
        self._draws += 1
        return splitmix64(self._base + key)

    def uniform(self, low: float = 0.0, high: float = 1.0) -> Floats:
        """Uniform on ``[low, high)``."""
        unit = (self.bits() >> _S11).astype(np.float64) * _TO_UNIT
        if low == 0.0 and high == 1.0:
            return unit
        return low + (high - low) * unit

    def normal(self, loc: float = 0.0, scale: float = 1.0) -> Floats:
        """Normal with mean ``loc`` and standard deviation ``scale`` (Box–Muller)."""
        u1 = 1.0 - self.uniform()  # (0, 1]: log stays finite
        u2 = self.uniform()
        z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        if loc == 0.0 and scale == 1.0:
            return z
        return loc + scale * z

    def integers(self, low: int, high: int) -> npt.NDArray[np.int64]:
        """Integers on ``[low, high)``."""
        if high <= low:
            raise ValueError(f"integers needs low < high, got {low} and {high}")
        span = np.uint64(high - low)
        return (self.bits() % span).astype(np.int64) + low

    def bernoulli(self, p: float) -> npt.NDArray[np.bool_]:
        """True with probability ``p``."""
        return self.uniform() < p
