"""Seeds that are the same on every machine and in every process.

Everything random in a run — a simulated model's answer, a population's draws, a sampled message —
is seeded from the run's seed and the coordinates of the decision (task, agent, round, ...), never
from Python's per-process ``hash`` or from the clock, so that a run repeats exactly.
"""

from __future__ import annotations

import hashlib

__all__ = ["stable_seed"]


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from ``parts``, the same on every machine and every Python process."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
