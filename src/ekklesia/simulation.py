"""Simulations at scale: populations of agents stepped as columns on a few host actors.

A :class:`Simulation` is to populations what :class:`~ekklesia.swarm.Swarm` is to individually
modelled agents: ``sim.run()`` from scripts, ``await sim.arun()`` from async code. N agents are
placed on K host actors (default: the CPUs Ray has); see :mod:`ekklesia.agents.population` for
writing population kinds and :mod:`ekklesia.runtime.population_engine` for how a round runs.

The guess-2/3 game with a hundred thousand players::

    from ekklesia.environments import averages, guess_two_thirds

    result = guess_two_thirds(agents=100_000, rounds=5, seed=0).run()
    means = averages(result)  # the moderator's average, round by round
    guesses = result.final_states("players")["guess"]  # every player's last guess
    assert means[-1] < means[0] and guesses.shape == (100_000,)

What a run keeps: the timeline (``$EKKLESIA_HOME/timelines/<run_id>.parquet``) with the spec,
per-round aggregates of every population (:class:`~ekklesia.core.events.RoundMeasured`), and
the messages — all of them for small runs (``record="full"``), a seeded sample for large ones
(``record="sample"``, ``sample_rate`` of them); and every agent's final state, one Parquet file
per population in ``<run_id>.states/`` beside it. Same seed → the same timeline fingerprint and
the same final states, whatever the number of hosts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, PrivateAttr

from ekklesia.agents.population import AgentKind, Population
from ekklesia.core.aio import run_sync
from ekklesia.core.events import RoundMeasured, StatesSaved
from ekklesia.core.imports import resolve
from ekklesia.errors import SpecError, UserError
from ekklesia.runtime.footprint import MemorySampler, check_fits, estimate
from ekklesia.runtime.population_engine import PopulationEngine, RoundReport, SimulationConfig
from ekklesia.runtime.population_placement import lay_out
from ekklesia.runtime.ray_support import ensure_ray, ray_cpus
from ekklesia.runtime.replay import ReplayReport
from ekklesia.runtime.shell import new_run_id
from ekklesia.runtime.timeline import Timeline

__all__ = [
    "FULL_RECORD_LIMIT",
    "RoundReport",
    "Simulation",
    "SimulationResult",
    "areplay_simulation",
]

Record = Literal["auto", "full", "sample"]

#: With ``record="auto"``, runs of up to this many agents keep every message.
FULL_RECORD_LIMIT = 1000


class SimulationResult(BaseModel):
    """What a simulation did: per-round aggregates and timings, and where its records are."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    name: str
    agents: int
    rounds: int
    hosts: int
    seed: int
    per_round_s: list[float]
    startup_s: float
    restarts: int
    peak_rss_mib: float
    measured: list[RoundMeasured]
    timeline_path: Path
    states_dir: Path
    _timeline: Timeline | None = PrivateAttr(default=None)

    def column(self, population: str, column: str, stat: str = "mean") -> list[float | None]:
        """One statistic (``mean``, ``min`` or ``max``) of a state column, round by round."""
        if stat not in ("mean", "min", "max"):
            raise UserError(f"stat must be 'mean', 'min' or 'max', got {stat!r}")
        out: list[float | None] = []
        for m in self.measured:
            if population not in m.populations:
                raise UserError(f"no population {population!r} in run {self.run_id}")
            columns = m.populations[population].columns
            if column not in columns:
                raise UserError(f"population {population!r} has no column {column!r}")
            out.append(getattr(columns[column], stat))
        return out

    @property
    def messages(self) -> int:
        """Messages delivered over the run (a broadcast counts once per agent that heard it)."""
        return sum(p.delivered for m in self.measured for p in m.populations.values())

    @property
    def messages_per_s(self) -> float:
        seconds = sum(self.per_round_s)
        return self.messages / seconds if seconds > 0 else 0.0

    def final_states(self, population: str) -> dict[str, npt.NDArray[Any]]:
        """Every agent's final state columns, read back from the Parquet file (row = agent)."""
        path = self.states_dir / f"{population}.parquet"
        if not path.exists():
            raise UserError(f"no final states of {population!r} under {self.states_dir}")
        table = pq.read_table(path)
        return {
            name: table.column(name).to_numpy() for name in table.column_names if name != "agent"
        }

    @property
    def timeline(self) -> Timeline:
        if self._timeline is None:
            self._timeline = Timeline.read(self.timeline_path)
        return self._timeline


class Simulation:
    """Populations stepped together for a number of rounds. See the module docstring."""

    def __init__(
        self,
        populations: Sequence[Population],
        rounds: int = 1,
        seed: int = 0,
        *,
        hosts: int | None = None,
        record: Record = "auto",
        sample_rate: float = 0.001,
        checkpoint_every: int = 1,
        max_restarts: int = 3,
        name: str = "simulation",
        description: str = "",
    ) -> None:
        populations = list(populations)
        if not populations or not all(isinstance(p, Population) for p in populations):
            raise SpecError("a simulation needs one or more ek.Population")
        names = [p.name for p in populations]
        if repeated := sorted({n for n in names if names.count(n) > 1}):
            raise SpecError(f"population names must be unique; repeated: {', '.join(repeated)}")
        _check_int("rounds", rounds, 1)
        _check_int("checkpoint_every", checkpoint_every, 0)
        _check_int("max_restarts", max_restarts, 0)
        if hosts is not None:
            _check_int("hosts", hosts, 1)
        if record not in ("auto", "full", "sample"):
            raise SpecError(f"record must be 'auto', 'full' or 'sample', got {record!r}")
        if not 0.0 <= sample_rate <= 1.0:
            raise SpecError(f"sample_rate must be within [0, 1], got {sample_rate}")
        self.populations = populations
        self.rounds = rounds
        self.seed = seed
        self.hosts = hosts
        self.agents = sum(p.n for p in populations)
        self.record: Literal["full", "sample"] = (
            ("full" if self.agents <= FULL_RECORD_LIMIT else "sample")
            if record == "auto"
            else record
        )
        self.sample_rate = 1.0 if self.record == "full" else sample_rate
        self.checkpoint_every = checkpoint_every
        self.max_restarts = max_restarts
        self.name = name
        self.description = description

    def describe(self) -> dict[str, Any]:
        """The spec as recorded in the timeline."""
        return {
            "name": self.name,
            "populations": [p.describe() for p in self.populations],
            "rounds": self.rounds,
            "seed": self.seed,
            "record": self.record,
            "sample_rate": self.sample_rate,
            "checkpoint_every": self.checkpoint_every,
        }

    def check_memory(self, hosts: int) -> None:
        """Refuse (:class:`SpecError`) a run that would not fit in memory; see
        :mod:`ekklesia.runtime.footprint`."""
        check_fits(
            estimate(self.populations, hosts, rounds=self.rounds, record_rate=self.sample_rate)
        )

    async def arun(
        self,
        on_round: Callable[[RoundReport], None] | None = None,
        *,
        on_start: Callable[[float], None] | None = None,
    ) -> SimulationResult:
        """Place the agents, run every round, write the records; ``on_round`` is called after
        each round and ``on_start`` with the start-up seconds once the hosts are up."""
        self.check_memory(self.hosts or 1)  # before starting Ray: a hopeless run fails at once
        ensure_ray()
        hosts = self.hosts or ray_cpus()
        self.check_memory(hosts)
        layout = lay_out([(p.name, p.n, p.phase) for p in self.populations], hosts)
        config = SimulationConfig(
            name=self.name,
            rounds=self.rounds,
            seed=self.seed,
            sample_rate=self.sample_rate,
            checkpoint_every=self.checkpoint_every,
            max_restarts=self.max_restarts,
            description=self.description,
        )
        engine = PopulationEngine(config, self.populations, layout, self.describe())
        with MemorySampler() as memory:
            outcome = await engine.run(new_run_id(), on_round, on_start=on_start, memory=memory)
        return SimulationResult(
            run_id=outcome.run_id,
            name=self.name,
            agents=self.agents,
            rounds=outcome.rounds,
            hosts=len(layout.hosts),
            seed=self.seed,
            per_round_s=outcome.per_round_s,
            startup_s=outcome.startup_s,
            restarts=outcome.restarts,
            peak_rss_mib=memory.peak_rss_mib,
            measured=outcome.measured,
            timeline_path=outcome.timeline_path,
            states_dir=outcome.states_dir,
        )

    @classmethod
    def from_spec(cls, spec: dict[str, Any], description: str = "") -> Simulation:
        """Rebuild a simulation from the spec its timeline recorded."""
        populations = [
            Population(
                resolve(d["kind"], AgentKind, what="the population kind"),
                n=d["n"],
                params=d["params"],
                name=d["name"],
                phase=d["phase"],
            )
            for d in spec["populations"]
        ]
        return cls(
            populations,
            rounds=spec["rounds"],
            seed=spec["seed"],
            record=spec["record"],
            sample_rate=spec["sample_rate"],
            checkpoint_every=spec["checkpoint_every"],
            name=spec["name"],
            description=description,
        )

    def run(
        self,
        on_round: Callable[[RoundReport], None] | None = None,
        *,
        on_start: Callable[[float], None] | None = None,
    ) -> SimulationResult:
        """Run the simulation (sync). Inside async code use :meth:`arun`."""
        return run_sync(
            self.arun(on_round, on_start=on_start), "Simulation.run()", "await sim.arun()"
        )


async def areplay_simulation(recorded: Timeline) -> ReplayReport:
    """Run a recorded simulation again from its spec and seed; compare every event (wall-clock
    and placement aside) and the digests of the final states."""
    started = recorded.started
    if "populations" not in started.spec:
        raise UserError(f"run {recorded.run_id} is not a simulation")
    sim = Simulation.from_spec(started.spec, str(started.task.get("prompt", "")))
    result = await sim.arun()
    saved = [e.populations for e in recorded.of_kind(StatesSaved)]
    again = [e.populations for e in result.timeline.of_kind(StatesSaved)]
    same_states = bool(saved) and _digests(saved) == _digests(again)
    return ReplayReport.compare(recorded, result.timeline, outcome_matches=same_states)


def _digests(saved: list[dict[str, dict[str, str | int]]]) -> list[dict[str, str | int]]:
    return [{name: entry["digest"] for name, entry in sorted(s.items())} for s in saved]


def _check_int(label: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise SpecError(f"{label} must be an integer >= {minimum}, got {value!r}")
