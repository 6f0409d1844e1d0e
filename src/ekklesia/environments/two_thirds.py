""" "Guess 2/3 of the average": N players, a moderator, R rounds.

Each round the players guess (phase 0) and the moderator (phase 1, an individual agent: a
population of one) hears every guess of the round, computes the average, the target (``ratio`` ×
average) and the winner (the player closest to the target), and broadcasts the average and the
target to all players — one row per host, not one per player. Players hear it at the start of the
next round.

Two kinds of player:

:class:`GuessPlayer` (``player="sim"``)
    Simulated and seeded: the first guess is uniform on [0, 100]; after that
    ``guess = clamp(ratio × last average + noise, 0, 100)`` with normal noise of standard
    deviation ``noise``. Averages fall towards 0 round by round, as in the lab.
:class:`DummyPlayer` (``player="dummy"``)
    AgentScope's overhead test: each player waits ``latency`` seconds, as if for a model, then
    answers a uniform random number. How the wait is modelled is ``wait``:

    ``"agent"`` (default)
        one timer per agent on the host's event loop; the slice goes on when the last has fired.
        N concurrent waits, each an event the loop must handle — what N outstanding model calls
        cost the scheduler — but no coroutine frame per agent.
    ``"coroutine"``
        one asyncio task per agent, each awaiting its own ``asyncio.sleep``: what per-agent async
        code costs (several times the timers).
    ``"batch"``
        one ``asyncio.sleep`` for the whole slice: all agents share one wait; measures the engine
        alone.

In every case the answers are drawn for the whole slice at once, after the wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np

from ekklesia.agents.population import AgentKind, Population, PopulationContext, State, StepResult
from ekklesia.core.mail import Inbox
from ekklesia.errors import SpecError
from ekklesia.simulation import Simulation, SimulationResult

__all__ = ["DummyPlayer", "GuessPlayer", "Moderator", "averages", "guess_two_thirds"]

Wait = Literal["agent", "coroutine", "batch"]


class GuessPlayer(AgentKind):
    """A simulated player; see the module docstring."""

    columns: ClassVar[Mapping[str, str]] = {"guess": "float64"}
    message_bytes = 8

    def __init__(
        self, ratio: float = 2 / 3, noise: float = 5.0, moderator: str = "moderator"
    ) -> None:
        if not 0.0 <= ratio <= 1.0:
            raise SpecError(f"ratio must be within [0, 1], got {ratio}")
        if noise < 0:
            raise SpecError(f"noise must be >= 0, got {noise}")
        self.ratio = ratio
        self.noise = noise
        self.moderator = moderator

    async def step(self, state: State, inbox: Inbox, ctx: PopulationContext) -> StepResult:
        if len(inbox.broadcast):
            average = float(inbox.broadcast["average"][-1])
            guess = ctx.rng.normal(self.ratio * average, self.noise)
            np.clip(guess, 0.0, 100.0, out=guess)
        else:
            guess = ctx.rng.uniform(0.0, 100.0)
        state["guess"][:] = guess
        return ctx.mail(to=ctx.agent(self.moderator), guess=guess)


async def wait_per_agent(latency: float, agents: int) -> None:
    """Schedule one timer per agent and return when the last has fired."""
    if agents == 0:
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    left = agents

    def fired() -> None:
        nonlocal left
        left -= 1
        if left == 0:
            done.set_result(None)

    for _ in range(agents):
        loop.call_later(latency, fired)
    await done


class DummyPlayer(AgentKind):
    """A player that waits, then answers at random; see the module docstring."""

    columns: ClassVar[Mapping[str, str]] = {"guess": "float64"}
    message_bytes = 8
    scratch_bytes = 256  # a timer handle per agent while waiting

    def __init__(
        self, latency: float = 1.0, wait: Wait = "agent", moderator: str = "moderator"
    ) -> None:
        if latency < 0:
            raise SpecError(f"latency must be >= 0 seconds, got {latency}")
        if wait not in ("agent", "coroutine", "batch"):
            raise SpecError(f"wait must be 'agent', 'coroutine' or 'batch', got {wait!r}")
        self.latency = latency
        self.wait = wait
        self.moderator = moderator

    async def step(self, state: State, inbox: Inbox, ctx: PopulationContext) -> StepResult:
        if self.wait == "agent":
            await wait_per_agent(self.latency, len(ctx))
        elif self.wait == "coroutine":
            await asyncio.gather(*(asyncio.sleep(self.latency) for _ in range(len(ctx))))
        else:
            await asyncio.sleep(self.latency)
        guess = ctx.rng.uniform(0.0, 100.0)
        state["guess"][:] = guess
        return ctx.mail(to=ctx.agent(self.moderator), guess=guess)


class Moderator(AgentKind):
    """The game master: averages the round's guesses, names the winner, broadcasts the average."""

    columns: ClassVar[Mapping[str, str]] = {
        "average": "float64",
        "target": "float64",
        "winner": "int64",
        "heard": "int64",
    }
    phase = 1

    def __init__(self, ratio: float = 2 / 3, players: str = "players") -> None:
        self.ratio = ratio
        self.players = players

    async def step(self, state: State, inbox: Inbox, ctx: PopulationContext) -> StepResult:
        mail = inbox.direct
        if not len(mail) or "guess" not in mail:
            return None
        guesses = mail["guess"]
        average = float(np.mean(guesses))
        target = self.ratio * average
        closest = int(np.argmin(np.abs(guesses - target)))
        state["average"][:] = average
        state["target"][:] = target
        state["winner"][:] = int(mail.sender[closest]) - int(ctx.agent(self.players, 0))
        state["heard"][:] = len(mail)
        return ctx.mail(to=ctx.everyone(self.players), average=average, target=target)


def guess_two_thirds(
    agents: int,
    rounds: int,
    *,
    player: Literal["sim", "dummy"] = "sim",
    latency: float = 1.0,
    wait: Wait = "agent",
    ratio: float = 2 / 3,
    noise: float = 5.0,
    seed: int = 0,
    hosts: int | None = None,
    **options: Any,
) -> Simulation:
    """The game as a :class:`~ekklesia.simulation.Simulation`; ``options`` go to it
    (``record``, ``sample_rate``, ``checkpoint_every``, ``max_restarts``)."""
    if player == "sim":
        players = Population(
            GuessPlayer, n=agents, name="players", params={"ratio": ratio, "noise": noise}
        )
    elif player == "dummy":
        players = Population(
            DummyPlayer, n=agents, name="players", params={"latency": latency, "wait": wait}
        )
    else:
        raise SpecError(f"player must be 'sim' or 'dummy', got {player!r}")
    moderator = Population(Moderator, name="moderator", params={"ratio": ratio})
    return Simulation(
        [players, moderator],
        rounds=rounds,
        seed=seed,
        hosts=hosts,
        name="guess-two-thirds",
        description=f"{agents:,} {player} players guess 2/3 of the average for {rounds} rounds",
        **options,
    )


def averages(result: SimulationResult) -> list[float | None]:
    """The moderator's average, round by round."""
    return result.column("moderator", "average")
