"""A seeded, free, deterministic model that answers the way a language model would.

``skill`` is the probability that a first answer is right. In later rounds, with probability
``conformity`` the model moves to the plurality of what it heard (its own last answer counted);
otherwise it works the problem again from the start, right with probability ``skill``. An agent
that hears only its own answer repeated keeps it. Wrong answers are plausible: for arithmetic the
model writes out its steps and slips in one of them, so the wrong total follows from the work
shown.

``correlation`` makes copies of one model fail together, as real ones do: each task gets a
difficulty shared by every agent using this model (its chance of being right is drawn from a Beta
distribution with mean ``skill`` and intra-class correlation ``correlation``), and with probability
``correlation`` a wrong answer is the task's common slip rather than the agent's own. At 0 the
agents err independently; at 1 they all answer alike. A fresh derivation prompted by disagreement
is free of that shared difficulty — which is how debate can beat a majority of independent runs.

The defaults (``conformity=0.3``, ``correlation=0.5``) reproduce, at ``skill=0.67``, the figures
Du et al. report for gpt-3.5 on their arithmetic task: single agent, majority of three, and debate
(see ``benchmarks/README.md``).

Token counts follow the text and the call is priced as ``price_as`` from the price table.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import Counter
from collections.abc import Callable, Mapping

from ekklesia.agents.model import Model
from ekklesia.agents.pricing import PriceTable, default_prices
from ekklesia.core.imports import load
from ekklesia.core.llm import LLMRequest, LLMResponse, estimate_tokens
from ekklesia.core.seeds import stable_seed
from ekklesia.errors import SpecError

__all__ = ["Behaviour", "SimulatedModel", "register_behaviour"]

#: How a simulated model answers a kind of task other than arithmetic: the reply's text.
Behaviour = Callable[["SimulatedModel", LLMRequest, random.Random], str]

_behaviours: dict[str, Behaviour | str] = {}


def register_behaviour(kind: str, behaviour: Behaviour | str) -> None:
    """Make simulated models answer tasks whose ``meta["kind"]`` is ``kind`` with ``behaviour``
    (a function, or an import path ``"package.module:function"`` resolved on first use).

    A task can also name its behaviour itself, ``meta["simulated_by"] = "package.module:fn"``, so
    that a host process that never imported the package that built the task still finds it.
    """
    _behaviours[kind] = behaviour


def _behaviour(meta: Mapping[str, object]) -> Behaviour | None:
    kind, named = meta.get("kind"), meta.get("simulated_by")
    found = _behaviours.get(kind) if isinstance(kind, str) else None
    if found is None and isinstance(named, str):
        found = named
    if isinstance(found, str):
        found = load(found, what="the simulated behaviour")  # type: ignore[assignment]
        if isinstance(kind, str):
            _behaviours[kind] = found
    return found if callable(found) else None


_EXPRESSION = re.compile(r"(-?\d+(?:\s*[-+*]\s*\d+)+)")


class SimulatedModel(Model):
    """A simulated language model; see the module docstring for its behaviour."""

    def __init__(
        self,
        skill: float = 0.67,
        conformity: float = 0.3,
        *,
        correlation: float = 0.5,
        seed: int = 0,
        latency_s: float = 0.0,
        price_as: str = "openai/gpt-4o-mini",
        prices: PriceTable | None = None,
    ) -> None:
        checks = (("skill", skill), ("conformity", conformity), ("correlation", correlation))
        for label, value in checks:
            if not 0.0 <= value <= 1.0:
                raise SpecError(f"SimulatedModel {label} must be within [0, 1], got {value}")
        if latency_s < 0:
            raise SpecError(f"SimulatedModel latency_s must be >= 0, got {latency_s}")
        self.skill = skill
        self.conformity = conformity
        self.correlation = correlation
        self.seed = seed
        self.latency_s = latency_s
        self.price_as = price_as
        self._prices = prices
        self.name = "sim"

    def spec(self) -> str:
        parts = [
            f"skill={self.skill:g}",
            f"conformity={self.conformity:g}",
            f"correlation={self.correlation:g}",
        ]
        if self.seed:
            parts.append(f"seed={self.seed}")
        if self.latency_s:
            parts.append(f"latency={self.latency_s:g}")
        return "sim:" + ",".join(parts)

    @property
    def prices(self) -> PriceTable:
        return self._prices or default_prices()

    def max_cost_usd(self, input_tokens: int, max_output_tokens: int) -> float | None:
        return self.prices.cost(self.price_as, input_tokens, max_output_tokens)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        rng = random.Random(stable_seed("sim", self.seed, request.seed, request.call_index))
        behaviour = _behaviour(request.hints.meta) if request.hints else None
        text = behaviour(self, request, rng) if behaviour else self._write(request, rng)
        max_chars = request.max_tokens * 4
        finish = "stop"
        if len(text) > max_chars:
            text, finish = text[:max_chars], "length"
        input_tokens = estimate_tokens(request.prompt_text)
        output_tokens = estimate_tokens(text)
        return LLMResponse(
            text=text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=self.prices.cost(self.price_as, input_tokens, output_tokens),
            latency_s=self.latency_s,
            model=self.spec(),
            finish_reason=finish,
        )

    def _task_skill(self, task_seed: int) -> float:
        """This model's chance of being right on one task (shared by all agents using it)."""
        return _beta_mean_icc(random.Random(task_seed), self.skill, self.correlation)

    # -- writing an answer -------------------------------------------------------------------

    def _write(self, request: LLMRequest, rng: random.Random) -> str:
        hints = request.hints
        expected = hints.expected if hints else None
        expression = _EXPRESSION.search(_task_text(request))
        heard = list(hints.heard_answers) if hints else []
        own = hints.own_answer if hints else None

        fresh_look = False
        if heard or own is not None:
            pool = ([own] if own is not None else []) + heard
            if own is not None and all(a == own for a in heard):
                lead = f"The other agents reached {own} as I did; I am confident in it."
                return _finish(lead, own, rng, correct=own == expected)
            if rng.random() < self.conformity:
                answer = _plurality(pool, own)
                agree = sum(1 for a in pool if a == answer)
                if agree == 1:
                    lead = f"The answers all differ; after checking my steps again I keep {answer}."
                else:
                    lead = (
                        f"I have read the other agents' solutions. {agree} of the {len(pool)} "
                        f"answers (mine included) give {answer}, and their reasoning holds up."
                    )
                return _finish(lead, answer, rng, correct=answer == expected)
            lead = "The agents disagree, so I worked the problem again from the start."
            fresh_look = True
        else:
            lead = "Let me work through this step by step."

        task_seed = stable_seed("sim-task", self.seed, hints.task_id if hints else "")
        # Disagreement prompts a fresh derivation, free of the task's shared difficulty.
        chance = self.skill if fresh_look else self._task_skill(task_seed)
        correct = expected is not None and rng.random() < chance
        shared = not fresh_look and rng.random() < self.correlation
        slip_rng = random.Random(task_seed + 1) if shared else rng
        if expression is not None:
            work, answer = _arithmetic_work(expression.group(1), correct, slip_rng)
            return _finish(f"{lead}\n{work}", answer, rng, correct=correct)
        answer = expected if correct and expected is not None else _wrong(expected, hints, slip_rng)
        return _finish(lead, answer, rng, correct=correct)


def _beta_mean_icc(rng: random.Random, mean: float, icc: float) -> float:
    if icc <= 0.0 or mean in (0.0, 1.0):
        return mean
    if icc >= 1.0:
        return 1.0 if rng.random() < mean else 0.0
    concentration = (1.0 - icc) / icc
    return rng.betavariate(mean * concentration, (1.0 - mean) * concentration)


def _task_text(request: LLMRequest) -> str:
    users = [turn.content for turn in request.messages if turn.role == "user"]
    return users[0] if users else ""


def _plurality(pool: list[str], own: str | None) -> str:
    counts = Counter(pool)
    best = max(counts.values())
    tied = [answer for answer, count in counts.items() if count == best]
    if own is not None and own in tied:
        return own
    return min(tied)


def _finish(body: str, answer: str, rng: random.Random, *, correct: bool) -> str:
    low, high = (0.6, 0.97) if correct else (0.3, 0.85)
    confidence = low + (high - low) * rng.random()
    return f"{body}\nAnswer: {answer}\nConfidence: {confidence:.2f}"


def _wrong(expected: str | None, hints: object, rng: random.Random) -> str:
    options = [o for o in getattr(hints, "options", ()) if o != expected]
    if options:
        return str(rng.choice(options))
    if expected is not None:
        try:
            value = int(expected)
        except ValueError:
            return f"not {expected}"
        slip = rng.choice([1, 2, 3, 5, 10, 20])
        return str(value + slip if rng.random() < 0.5 else value - slip)
    return str(rng.randint(0, 100))


def _arithmetic_work(expression: str, correct: bool, rng: random.Random) -> tuple[str, str]:
    """Write out the evaluation of ``+ - *`` integer arithmetic, slipping once when not correct."""
    tokens = re.findall(r"\d+|[-+*]", expression.replace(" ", ""))
    if expression.strip().startswith("-"):
        tokens = ["0", *tokens]
    # group into signed terms of products
    terms: list[tuple[int, list[int]]] = []
    sign, factors = 1, [int(tokens[0])]
    for op, number in zip(tokens[1::2], tokens[2::2], strict=True):
        if op == "*":
            factors.append(int(number))
        else:
            terms.append((sign, factors))
            sign, factors = (1 if op == "+" else -1), [int(number)]
    terms.append((sign, factors))

    products = [(s, f, _product(f)) for s, f in terms]
    multi = [i for i, (_, f, _) in enumerate(products) if len(f) > 1]
    slip_at: int | None = None
    slip_kind = ""
    if not correct:
        slip_kind = rng.choice(["product", "sum"]) if multi else "sum"
        if slip_kind == "product":
            slip_at = rng.choice(multi)
    lines: list[str] = []
    values: list[int] = []
    for i, (s, f, value) in enumerate(products):
        if len(f) > 1:
            if i == slip_at:
                delta = f[0] if rng.random() < 0.5 else f[-1]
                value = value + delta if rng.random() < 0.5 else value - delta
            lines.append(f"{' * '.join(map(str, f))} = {value}")
        values.append(s * value)
    total = values[0]
    running = str(values[0])
    for v in values[1:]:
        total += v
        running += f" {'+' if v >= 0 else '-'} {abs(v)}"
    if slip_kind == "sum":
        total += rng.choice([-10, -2, -1, 1, 2, 10])
    lines.append(f"{running} = {total}")
    return "\n".join(lines), str(total)


def _product(factors: list[int]) -> int:
    value = 1
    for f in factors:
        value *= f
    return value
