"""The user's entry point: a :class:`Swarm` of agents working tasks by a pattern, on Ray.

Async inside, with one thin sync wrapper at the edge: ``swarm.run(task)`` from scripts,
``await swarm.arun(task)`` from async code, ``async for event in swarm.stream(task)`` to follow a
run live. Hosts start on the first run and are reused by later runs until :meth:`Swarm.close` (or
the end of a ``with`` block). A swarm is described by a :class:`~ekklesia.patterns.spec.RunSpec`
(:meth:`Swarm.from_spec` builds one from a spec or a file; :meth:`Swarm.describe` gives it back,
as every timeline records it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import networkx as nx
from pydantic import BaseModel

from ekklesia.agents.agent import Agent
from ekklesia.agents.context import MemoryProvider
from ekklesia.agents.model import Model
from ekklesia.agents.roles import Role, get_role
from ekklesia.core.aio import run_sync
from ekklesia.core.events import AnyEvent, StrategyChosen
from ekklesia.core.imports import import_path, resolve
from ekklesia.core.llm import LLMRequest, LLMResponse
from ekklesia.core.task import Task
from ekklesia.errors import SpecError
from ekklesia.patterns.graph import build_graph, validate_graph
from ekklesia.patterns.library import get_pattern, library, register_pattern
from ekklesia.patterns.pattern import Pattern, Plan
from ekklesia.patterns.spec import AgentSpec, RunSpec
from ekklesia.patterns.strategy import check_strategy, chooser_for
from ekklesia.runtime.engine import EngineConfig, HostPool, RoundEngine, RunResult
from ekklesia.runtime.ledger import Budget
from ekklesia.runtime.placement import check_placement, place
from ekklesia.runtime.ray_support import ensure_ray, ray_cpus
from ekklesia.runtime.replay import ReplayReport
from ekklesia.runtime.shell import EventListener
from ekklesia.runtime.timeline import Timeline

__all__ = ["ReplayReport", "RunResult", "Swarm", "areplay_swarm", "arun_auto"]


class Swarm:
    """Agents, the pattern they follow, the graph they hear each other over, and how a run ends."""

    def __init__(
        self,
        agents: Sequence[Agent],
        graph: str | nx.DiGraph = "complete",
        rounds: int = 2,
        aggregate: str | None = None,
        seed: int = 0,
        budget: Budget | None = None,
        *,
        pattern: str | Pattern = "debate",
        options: Mapping[str, Any] | BaseModel | None = None,
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
        self.agents = {a.name: a for a in agents}
        recipe = get_pattern(pattern)
        if isinstance(pattern, Pattern) and library.get(pattern.name) is not pattern:
            register_pattern(pattern)  # so that its runs' specs name it, and replays find it
        aggregate = aggregate or recipe.aggregate
        self.plan = Plan(rounds, aggregate, stop_on_consensus, recipe.parse_options(options))
        self.pattern = recipe.configure(self.plan.options)
        self.pattern.check_swarm(self.agents, self.plan)
        debaters = sorted(a.name for a in agents if a.role.debates)
        self.graph = build_graph(graph, debaters, seed)
        validate_graph(self.graph, debaters, rounds=rounds if self.pattern.uses_graph else 1)
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
        self._auto: dict[str, Swarm] = {}  # the swarms of strategies a learner chose
        self._described: dict[str, Any] | None = None
        self._config = EngineConfig(
            seed=seed, budget=self.budget, max_restarts=max_restarts, swarm_id=name
        )

    # -- description ---------------------------------------------------------------------------

    def spec(self) -> RunSpec:
        """The run spec of this swarm (enough to rebuild it), as every run's timeline records it."""
        graph: str | list[tuple[str, str]] = (
            self.topology
            if self.topology != "custom"
            else sorted((str(u), str(v)) for u, v in self.graph.edges)
        )
        memory_name = getattr(getattr(self.memory, "config", None), "name", None)
        return RunSpec(
            name=self.name,
            pattern=self.pattern.name,
            agents=[
                AgentSpec.model_validate(self.agents[n].describe()) for n in sorted(self.agents)
            ],
            graph=graph,
            rounds=self.rounds,
            aggregate=self.aggregate,
            stop_on_consensus=self.stop_on_consensus,
            budget=self.budget,
            seed=self.seed,
            memory=memory_name if isinstance(memory_name, str) else None,
            options=self.plan.options.model_dump(mode="json") if self.plan.options else {},
            max_restarts=self.max_restarts,
        )

    def describe(self) -> dict[str, Any]:
        """The spec as plain data."""
        return self.spec().to_data()

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
        for chosen in self._auto.values():
            chosen.close()
        self._auto = {}
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
        on_event: EventListener | None = None,
        notes: Sequence[AnyEvent] = (),
        strategy: str | None = None,
    ) -> RunResult:
        """Run one task to the end; the timeline is written whatever happens.

        ``on_event`` is called with each event as it is appended; ``notes`` are recorded right
        after ``run_started`` (a learner's :class:`~ekklesia.core.events.StrategyChosen`).
        Cancelling the awaiting task ends the run cleanly: its timeline closes with a
        ``run_cancelled`` event. ``strategy="auto"`` asks the learner of the task's kind which
        strategy to run (:mod:`ekklesia.patterns.strategy`): that strategy's swarm runs the task,
        the choice is recorded in the timeline and the learner learns from the result.
        """
        if isinstance(task, str):
            task = Task.of(task)
        check_strategy(strategy)
        if strategy == "auto":
            return await arun_auto(task, self._auto, on_event=on_event)
        pool = await self._hosts()
        if self._described is None:  # the same for every run of this swarm: validate it once
            self._described = self.describe()
        engine = RoundEngine(
            self._config,
            self.agents,
            self.graph,
            pool,
            self._described,
            partial(self.pattern.run, plan=self.plan),
            tags={"pattern": self.pattern.name, "task_kind": task.suite},
        )
        return await engine.run(task, replay=replay, on_event=on_event, notes=notes)

    def run(self, task: Task | str, *, strategy: str | None = None) -> RunResult:
        """Run one task (sync). Inside async code use :meth:`arun`."""
        return run_sync(self.arun(task, strategy=strategy), "Swarm.run()", "await swarm.arun(...)")

    async def stream(self, task: Task | str) -> AsyncIterator[AnyEvent]:
        """Each event of a run of ``task`` as it is appended, ending with the run's last event.

        Leaving the loop early (``break``, an error, ``aclose()``) cancels the run.
        """
        queue: asyncio.Queue[AnyEvent | None] = asyncio.Queue()
        running = asyncio.ensure_future(self.arun(task, on_event=queue.put_nowait))
        running.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            running.result()  # a run that failed raises here, after its last event
        finally:
            if not running.done():
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

    async def arun_many(
        self,
        tasks: Iterable[Task],
        *,
        on_result: Callable[[RunResult], None] | None = None,
        strategy: str | None = None,
    ) -> list[RunResult]:
        """Run tasks one after another on the same hosts."""
        results = []
        for task in tasks:
            result = await self.arun(task, strategy=strategy)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    def run_many(
        self,
        tasks: Iterable[Task],
        *,
        on_result: Callable[[RunResult], None] | None = None,
        strategy: str | None = None,
    ) -> list[RunResult]:
        return run_sync(
            self.arun_many(tasks, on_result=on_result, strategy=strategy),
            "Swarm.run_many()",
            "await swarm.arun_many(...)",
        )

    # -- building from a spec ------------------------------------------------------------------

    @classmethod
    def from_spec(
        cls,
        spec: RunSpec | Mapping[str, Any] | str | Path,
        *,
        model_for: Callable[[str], Model] | None = None,
        memory: MemoryProvider | None = None,
    ) -> Swarm:
        """Build a swarm from a :class:`RunSpec`, its data, or a YAML/JSON file.

        ``model_for`` builds each agent's model from its spec string (by default the model the
        spec names); ``memory`` overrides the memory the spec names.
        """
        run_spec = RunSpec.of(spec)
        agents = _agents_of(run_spec, model_for)
        if memory is None and run_spec.memory is not None:
            from ekklesia.memory import Memory

            memory = Memory(run_spec.memory)
        graph: str | nx.DiGraph = (
            run_spec.graph if isinstance(run_spec.graph, str) else _edges(run_spec.graph, agents)
        )
        placement = run_spec.placement
        return cls(
            agents,
            graph=graph,
            rounds=run_spec.rounds,
            aggregate=run_spec.aggregate,
            seed=run_spec.seed,
            budget=run_spec.budget,
            pattern=run_spec.pattern,
            options=run_spec.options,
            stop_on_consensus=run_spec.stop_on_consensus,
            placement=int(placement)
            if isinstance(placement, str) and placement.isdigit()
            else placement,
            max_restarts=run_spec.max_restarts,
            memory=memory,
            name=run_spec.name,
        )


async def arun_auto(
    task: Task, swarms: dict[str, Swarm], *, on_event: EventListener | None = None
) -> RunResult:
    """Run ``task`` by the strategy the learner of its kind chooses; ``swarms`` keeps the
    chosen strategies' swarms (by spec) for the next tasks."""
    chooser = chooser_for(task.suite)
    chosen = await chooser.choose(task)
    key = chosen.spec.model_dump_json()
    if key not in swarms:
        swarms[key] = Swarm.from_spec(chosen.spec)
    result = await swarms[key].arun(task, on_event=on_event, notes=chosen.notes)
    await chooser.record(chosen, result)
    return result


def _edges(edges: Sequence[tuple[str, str]], agents: Sequence[Agent]) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(a.name for a in agents if a.role.debates)
    graph.add_edges_from(edges)
    return graph


def _agents_of(spec: RunSpec, model_for: Callable[[str], Model] | None) -> list[Agent]:
    if isinstance(spec.agents, list):
        return [_agent(a, spec, model_for) for a in spec.agents]
    pattern = get_pattern(spec.pattern)
    if spec.agents is None and pattern.team:
        return [_agent(a, spec, model_for) for a in pattern.team]
    count = 3 if spec.agents is None else spec.agents
    roles = [spec.role] if spec.role else list(pattern.roles) or ["solver"]
    described = [
        AgentSpec(
            name=f"agent-{i}" if len(roles) == 1 else f"{roles[i % len(roles)]}-{i}",
            role=roles[i % len(roles)],
            tools=spec.tools,
        )
        for i in range(count)
    ]
    if (spec.aggregate or pattern.aggregate) == "judge":
        described.append(AgentSpec(name="judge", role="judge"))
    return [_agent(a, spec, model_for) for a in described]


def _agent(desc: AgentSpec, spec: RunSpec, model_for: Callable[[str], Model] | None) -> Agent:
    model_spec = desc.model or spec.model
    model: str | Model = model_for(model_spec) if model_for is not None else model_spec
    role: Role = get_role(desc.role)
    plain = desc.class_ is None or desc.class_ == import_path(Agent)
    cls = Agent if plain else resolve(desc.class_ or "", Agent, what=f"the class of {desc.name}")
    agent = Agent.__new__(cls)  # a user's subclass may take other arguments: set what Agent sets
    Agent.__init__(
        agent,
        desc.name,
        role=role,
        model=model,
        max_tokens=desc.max_tokens,
        temperature=desc.temperature,
        tools=desc.tools,
    )
    return agent


class _RecordedModel(Model):
    """Stands for a recorded model in a replay, which must never call it."""

    def __init__(self, spec: str) -> None:
        self.name = spec

    def spec(self) -> str:
        return self.name

    async def complete(self, request: LLMRequest) -> LLMResponse:  # pragma: no cover
        raise RuntimeError("a replayed run called a model")


async def areplay_swarm(recorded: Timeline) -> ReplayReport:
    """Re-run a recorded swarm run with the recorded model and tool outputs; compare."""
    started = recorded.started
    task = Task.model_validate(started.task)
    swarm = Swarm.from_spec(started.spec, model_for=_RecordedModel)
    try:
        # a learner's recorded choice is a decision, not a model output: it is carried over
        notes = recorded.of_kind(StrategyChosen)
        result = await swarm.arun(task, replay=recorded, notes=notes)
    finally:
        swarm.close()
    finished = recorded.finished
    outcome_matches = finished is not None and (
        finished.answer == result.answer and finished.stop_reason == result.stop_reason
    )
    return ReplayReport.compare(recorded, result.timeline, outcome_matches=outcome_matches)
