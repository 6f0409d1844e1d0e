"""The user's entry point: a :class:`Swarm` of agents over a debate graph, run on Ray.

Async inside, with one thin sync wrapper at the edge: ``swarm.run(task)`` from scripts,
``await swarm.arun(task)`` from async code. Hosts start on the first run and are reused by later
runs until :meth:`Swarm.close` (or the end of a ``with`` block).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import networkx as nx
from pydantic import BaseModel

from ekklesia.agents.agent import Agent
from ekklesia.agents.context import MemoryProvider
from ekklesia.agents.model import Model
from ekklesia.agents.roles import Role
from ekklesia.core.task import Task
from ekklesia.errors import SpecError, UserError
from ekklesia.patterns.aggregation import check_aggregation
from ekklesia.patterns.graph import build_graph, validate_graph
from ekklesia.runtime.engine import EngineConfig, HostPool, RoundEngine, RunResult
from ekklesia.runtime.ledger import Budget
from ekklesia.runtime.placement import check_placement, place
from ekklesia.runtime.ray_support import ensure_ray, ray_cpus
from ekklesia.runtime.timeline import Timeline

__all__ = ["ReplayReport", "RunResult", "Swarm", "replay"]

T = TypeVar("T")


def _sync(
    coro: Coroutine[Any, Any, T],
    called: str = "Swarm.run()",
    instead: str = "await swarm.arun(...)",
) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise UserError(f"{called} was called inside a running event loop: use `{instead}`")


class Swarm:
    """Agents, the graph they debate over, and how a run ends. See the README for a tour."""

    def __init__(
        self,
        agents: Sequence[Agent],
        graph: str | nx.DiGraph = "complete",
        rounds: int = 2,
        aggregate: str = "majority",
        seed: int = 0,
        budget: Budget | None = None,
        *,
        stop_on_consensus: bool = True,
        placement: str | int = "auto",
        max_restarts: int = 3,
        memory: MemoryProvider | None = None,
        name: str = "swarm",
    ) -> None:
        agents = list(agents)
        if not agents:
            raise SpecError("a swarm needs at least one agent")
        if not all(isinstance(a, Agent) for a in agents):
            raise SpecError("every member of a swarm must be an ek.Agent")
        names = [a.name for a in agents]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise SpecError(f"agent names must be unique; repeated: {', '.join(duplicates)}")
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise SpecError(f"rounds must be an integer >= 1, got {rounds!r}")
        if max_restarts < 0:
            raise SpecError(f"max_restarts must be >= 0, got {max_restarts}")
        check_aggregation(aggregate)
        self.agents = {a.name: a for a in agents}
        judges = sorted(a.name for a in agents if not a.role.debates)
        debaters = sorted(a.name for a in agents if a.role.debates)
        if aggregate == "judge" and len(judges) != 1:
            raise SpecError(
                f"aggregate='judge' needs exactly one agent with a non-debating role such as "
                f"'judge'; found {len(judges)}"
            )
        self.graph = build_graph(graph, debaters, seed)
        validate_graph(self.graph, debaters, rounds=rounds)
        self.topology = graph if isinstance(graph, str) else "custom"
        self.rounds = rounds
        self.aggregate = aggregate
        self.seed = seed
        self.budget = budget or Budget()
        if self.budget.max_usd is not None:
            unpriced = sorted(a.name for a in agents if a.model.max_cost_usd(1, 1) is None)
            if unpriced:
                raise SpecError(
                    f"a USD budget cannot hold calls of unknown price, and these agents' models "
                    f"have none: {', '.join(unpriced)} (price them with price_as= or "
                    "$EKKLESIA_PRICES, or budget in tokens with max_tokens)"
                )
        self.stop_on_consensus = stop_on_consensus
        self.placement_mode = check_placement(placement)
        self.max_restarts = max_restarts
        self.memory = memory
        self.name = name
        self._pool: HostPool | None = None
        self._config = EngineConfig(
            rounds=rounds,
            aggregate=aggregate,
            seed=seed,
            budget=self.budget,
            stop_on_consensus=stop_on_consensus,
            judge=judges[0] if judges else None,
            max_restarts=max_restarts,
            swarm_id=name,
        )

    # -- description ---------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The spec as recorded in every run's timeline (enough to rebuild the swarm)."""
        return {
            "name": self.name,
            "agents": [self.agents[n].describe() for n in sorted(self.agents)],
            "graph": {
                "topology": self.topology,
                "edges": sorted([str(u), str(v)] for u, v in self.graph.edges),
            },
            "rounds": self.rounds,
            "aggregate": self.aggregate,
            "seed": self.seed,
            "budget": self.budget.model_dump(),
            "stop_on_consensus": self.stop_on_consensus,
        }

    # -- lifecycle -----------------------------------------------------------------------------

    async def _hosts(self) -> HostPool:
        if self._pool is None:
            ensure_ray()
            placement = place(
                list(self.agents), self.placement_mode, graph=self.graph, cpus=ray_cpus()
            )
            self._pool = HostPool(placement, self.agents, self.memory)
            await self._pool.start()
        return self._pool

    def close(self) -> None:
        """Stop the host actors. The swarm starts new ones if it runs again."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Swarm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- running -------------------------------------------------------------------------------

    async def arun(
        self,
        task: Task | str,
        *,
        replay: Timeline | None = None,
        on_event: Callable[[Any], None] | None = None,
    ) -> RunResult:
        """Run one task to the end; the timeline is written whatever happens."""
        if isinstance(task, str):
            task = Task.of(task)
        pool = await self._hosts()
        engine = RoundEngine(self._config, self.agents, self.graph, pool, self.describe())
        return await engine.run(task, replay=replay, on_event=on_event)

    def run(self, task: Task | str) -> RunResult:
        """Run one task (sync). Inside async code use :meth:`arun`."""
        return _sync(self.arun(task))

    async def arun_many(
        self, tasks: Iterable[Task], *, on_result: Callable[[RunResult], None] | None = None
    ) -> list[RunResult]:
        """Run tasks one after another on the same hosts."""
        results = []
        for task in tasks:
            result = await self.arun(task)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    def run_many(
        self, tasks: Iterable[Task], *, on_result: Callable[[RunResult], None] | None = None
    ) -> list[RunResult]:
        return _sync(self.arun_many(tasks, on_result=on_result))

    # -- rebuilding from a timeline ------------------------------------------------------------

    @classmethod
    def from_spec(
        cls, spec: dict[str, Any], *, model_for: Callable[[str], Model] | None = None
    ) -> Swarm:
        """Rebuild a swarm from a recorded spec.

        ``model_for`` builds each agent's model from its recorded spec string (by default the
        model the spec names).
        """
        agents = [_agent_from(desc, model_for) for desc in spec["agents"]]
        graph = nx.DiGraph()
        graph.add_nodes_from(a.name for a in agents if a.role.debates)
        graph.add_edges_from(tuple(e) for e in spec["graph"]["edges"])
        swarm = cls(
            agents,
            graph=graph,
            rounds=spec["rounds"],
            aggregate=spec["aggregate"],
            seed=spec["seed"],
            budget=Budget(**spec["budget"]),
            stop_on_consensus=spec["stop_on_consensus"],
            name=spec.get("name", "swarm"),
        )
        swarm.topology = spec["graph"]["topology"]  # the name it was built from, not "custom"
        return swarm


def _agent_from(desc: dict[str, Any], model_for: Callable[[str], Model] | None) -> Agent:
    module_name, _, qualname = desc["class"].partition(":")
    try:
        cls: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        raise UserError(
            f"cannot rebuild agent {desc['name']}: {desc['class']} is not importable"
        ) from exc
    agent = Agent.__new__(cls)
    Agent.__init__(
        agent,
        desc["name"],
        role=Role.model_validate(desc["role"]),
        model=model_for(desc["model"]) if model_for is not None else desc["model"],
        max_tokens=desc["max_tokens"],
        temperature=desc["temperature"],
    )
    return agent  # type: ignore[no-any-return]


class ReplayReport(BaseModel):
    """What a replay found: whether the outcome and every event match the recording."""

    run_id: str
    replay_run_id: str
    events: int
    outcome_matches: bool
    events_match: bool
    first_difference: int | None = None
    recorded: dict[str, Any] | None = None
    replayed: dict[str, Any] | None = None

    @property
    def identical(self) -> bool:
        return self.outcome_matches and self.events_match

    @classmethod
    def compare(
        cls, recorded: Timeline, replayed: Timeline, *, outcome_matches: bool
    ) -> ReplayReport:
        """Compare two timelines event by event, wall-clock and placement aside."""
        ours, theirs = replayed.fingerprint(), recorded.fingerprint()
        pairs = enumerate(zip(ours, theirs, strict=False))
        first = next((i for i, (a, b) in pairs if a != b), None)
        if first is None and len(ours) != len(theirs):
            first = min(len(ours), len(theirs))
        return cls(
            run_id=recorded.run_id,
            replay_run_id=replayed.run_id,
            events=len(theirs),
            outcome_matches=outcome_matches,
            events_match=first is None,
            first_difference=first,
            recorded=theirs[first] if first is not None and first < len(theirs) else None,
            replayed=ours[first] if first is not None and first < len(ours) else None,
        )


class _RecordedModel(Model):
    """Stands for a recorded model in a replay, which must never call it."""

    def __init__(self, spec: str) -> None:
        self.name = spec

    def spec(self) -> str:
        return self.name

    async def complete(self, request: Any) -> Any:  # pragma: no cover - never reached
        raise RuntimeError("a replayed run called a model")


async def areplay(run_id: str) -> ReplayReport:
    """Re-run a recorded run with the recorded model outputs and no model calls; compare."""
    recorded = Timeline.load(run_id)
    started = recorded.started
    if "populations" in started.spec:  # a simulation of populations: re-run from its seed
        from ekklesia.simulation import areplay as areplay_simulation

        return await areplay_simulation(run_id)
    task = Task.model_validate(started.task)
    swarm = Swarm.from_spec(started.spec, model_for=_RecordedModel)
    try:
        result = await swarm.arun(task, replay=recorded)
    finally:
        swarm.close()
    finished = recorded.finished
    outcome_matches = finished is not None and (
        finished.answer == result.answer and finished.stop_reason == result.stop_reason
    )
    return ReplayReport.compare(recorded, result.timeline, outcome_matches=outcome_matches)


def replay(run_id: str) -> ReplayReport:
    return _sync(areplay(run_id))
