"""The arithmetic tasks of Du et al. 2023, "Improving Factuality and Reasoning in Language Models
through Multiagent Debate": ``a+b*c+d-e*f`` with each value drawn from 0–29.

Problems are drawn exactly as the paper's code draws them — ``np.random.seed(seed)`` and then
``np.random.randint(0, 30, size=6)`` per problem — so seed 0 gives the paper's problems.
"""

from __future__ import annotations

import numpy as np

from ekklesia.core.task import Task
from ekklesia.errors import SpecError

__all__ = ["arithmetic"]

PROMPT = (
    "What is the result of {}+{}*{}+{}-{}*{}? "
    "Make sure to state your answer at the end of the response."
)


def arithmetic(n: int = 100, seed: int = 0) -> list[Task]:
    """``n`` arithmetic problems from ``seed``."""
    if n < 1:
        raise SpecError(f"the arithmetic suite needs n >= 1 tasks, got {n}")
    rng = np.random.RandomState(seed)
    tasks = []
    for i in range(n):
        a, b, c, d, e, f = (int(v) for v in rng.randint(0, 30, size=6))
        answer = a + b * c + d - e * f
        tasks.append(
            Task(
                id=f"arithmetic-{seed}-{i}",
                prompt=PROMPT.format(a, b, c, d, e, f),
                expected=str(answer),
                suite="arithmetic",
                meta={"values": [a, b, c, d, e, f]},
            )
        )
    return tasks
