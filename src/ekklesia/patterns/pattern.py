"""Patterns: named recipes for how a swarm works a task, run by the round engine.

A :class:`Pattern` names the roles it needs, its :class:`Stage` s within a round (which agents step,
in which order, and whom they hear), its quality :class:`Gate` s (a check over the round's output;
on failure the named stages run again, up to a limit), its :class:`StopRule` s and how the final
answers are aggregated. :meth:`Pattern.run` interprets the recipe over a
:class:`~ekklesia.runtime.engine.RunContext`; the runtime below it only steps agents, delivers
mail, reserves budget and records events.

A round runs every stage in order. A stage's agents step together, each with the mail that reached
it since it last stepped: the task at first; then its own last message and what it heard. Whom an
agent's message reaches is the stage's hearing rule read backwards: agents of a stage that hears
``"graph"`` hear their predecessors in the debate graph (in the next round, as in a debate);
agents of a stage that hears ``("write",)`` hear whatever the agents of stage ``write`` said last.
After the stages, each gate checks the round; a failing gate sends its ``revise`` stages round
again (``attempt`` 1, 2, ...) until it passes or ``max_revisions`` is spent — then the run stops
(``gate_exhausted``) or goes on, as the gate says. Between rounds the stop rules are asked in
order. At the end the *voters* (the agents of the ``voters`` stage, by default the last) give their
final answers to the aggregation: ``majority``, ``confidence``, ``last``, or ``judge`` (an agent
whose role takes no part in rounds reads the final answers and decides) or ``last`` (the whole
text the voter who spoke last said: a writer's draft, a coder's program).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from ekklesia.agents.agent import Agent
from ekklesia.core.events import Aggregated, GateChecked, StopReason, VoteCast
from ekklesia.core.messages import AgentMessage
from ekklesia.core.task import Task
from ekklesia.errors import SpecError
from ekklesia.patterns.agent_spec import AgentSpec
from ekklesia.patterns.aggregation import AGGREGATIONS, Vote, aggregate_votes, check_aggregation
from ekklesia.runtime.engine import Inbox, Mailbox, Outcome, RunContext

__all__ = [
    "Gate",
    "Pattern",
    "Plan",
    "RoundView",
    "Stage",
    "StopRule",
    "consensus",
    "exact_match",
]


@dataclass(frozen=True)
class Stage:
    """One step within a round.

    ``roles``: the roles whose agents step (``None``: every agent whose role takes part in rounds).
    ``hears``: ``"graph"``, or the names of the stages whose latest messages these agents hear.
    ``instruction``: what the stage asks of each agent, after the task and its own last message;
    ``{heard}`` in it is replaced by what the agent heard, and an instruction with ``{heard}`` is
    left out while the agent has heard nothing (``None``: the debate prompt).
    """

    name: str
    roles: tuple[str, ...] | None = None
    hears: Literal["graph"] | tuple[str, ...] = "graph"
    instruction: str | None = None


@dataclass
class RoundView:
    """What the round has produced so far, for gates and stop rules to read."""

    round: int
    roles: Mapping[str, str]
    said: dict[str, AgentMessage] = field(default_factory=dict)
    stages: dict[str, dict[str, AgentMessage]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def of_role(self, role: str) -> list[AgentMessage]:
        """The latest message of each agent of ``role`` this round, by agent name."""
        return [m for name, m in sorted(self.said.items()) if self.roles.get(name) == role]

    def answers(self, role: str) -> list[str | None]:
        return [m.answer for m in self.of_role(role)]


Check = Callable[[RoundView], bool]


@dataclass(frozen=True)
class Gate:
    """A check the round's output must pass; on failure the ``revise`` stages run again."""

    name: str
    check: Check
    revise: tuple[str, ...]
    max_revisions: int = 3
    on_exhausted: Literal["stop", "continue"] = "stop"


@dataclass(frozen=True)
class StopRule:
    """Asked after each round that leaves rounds to go: stop now? ``check(view, voters)``."""

    name: str
    check: Callable[[RoundView, Sequence[str]], bool]
    reason: StopReason = "stop_rule"


def _all_agree(view: RoundView, voters: Sequence[str]) -> bool:
    answers = {view.said[name].answer for name in voters if name in view.said}
    heard_from = sum(name in view.said for name in voters)
    return (
        len(voters) > 1 and heard_from == len(voters) and len(answers) == 1 and None not in answers
    )


#: Every voter gave the same answer this round (skipped when ``stop_on_consensus`` is off).
consensus = StopRule("consensus", _all_agree, reason="consensus")


def exact_match(task: Task, answer: str | None) -> float | None:
    """1.0 when the answer is the task's expected one, 0.0 when not, ``None`` without a key."""
    if task.expected is None:
        return None
    return float(answer is not None and answer == task.expected)


@dataclass(frozen=True)
class Plan:
    """How one swarm runs a pattern: the run spec's rounds, aggregation, stop switch, options."""

    rounds: int
    aggregate: str
    stop_on_consensus: bool = True
    options: BaseModel | None = None


#: Scores an answer: 1.0 counts as correct; may be async (a scorer that runs tests in the sandbox).
Scorer = Callable[[Task, str | None], float | Awaitable[float | None] | None]


@dataclass(frozen=True)
class Pattern:
    """A named recipe; see the module docstring. ``options`` is the model of the pattern's own
    settings (a run spec's ``options`` are validated against it); ``scorer`` turns an answer into
    a score (1.0 counts as correct); ``suite`` names the task suite it is meant for."""

    name: str
    stages: tuple[Stage, ...]
    description: str = ""
    roles: tuple[str, ...] = ()
    gates: tuple[Gate, ...] = ()
    stop_rules: tuple[StopRule, ...] = (consensus,)
    voters: str | None = None
    aggregations: tuple[str, ...] = AGGREGATIONS
    options: type[BaseModel] | None = None
    scorer: Scorer = exact_match
    suite: str | None = None
    team: tuple[AgentSpec, ...] = ()
    """The agents a spec that names no agents of its own gets (each with the spec's model)."""
    aggregate: str = "majority"
    """The aggregation a spec that names none gets."""

    def __post_init__(self) -> None:
        if not self.stages:
            raise SpecError(f"pattern {self.name!r} has no stages")
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise SpecError(f"pattern {self.name!r} repeats a stage name: {names}")
        for stage in self.stages:
            if stage.hears != "graph" and (unknown := set(stage.hears) - set(names)):
                raise SpecError(
                    f"stage {stage.name!r} of pattern {self.name!r} hears unknown stages "
                    f"{sorted(unknown)}"
                )
        for gate in self.gates:
            if unknown := set(gate.revise) - set(names):
                raise SpecError(f"gate {gate.name!r} revises unknown stages {sorted(unknown)}")
            if gate.max_revisions < 0:
                raise SpecError(f"gate {gate.name!r}: max_revisions must be >= 0")
        if self.voters is not None and self.voters not in names:
            raise SpecError(f"pattern {self.name!r}: voters names no stage ({self.voters!r})")

    # -- what a swarm must have ----------------------------------------------------------------

    @property
    def uses_graph(self) -> bool:
        return any(stage.hears == "graph" for stage in self.stages)

    def configure(self, options: BaseModel | None) -> Pattern:
        """The pattern as a run's options set it (``max_revisions`` sets every gate's limit)."""
        limit = getattr(options, "max_revisions", None)
        if isinstance(limit, int):
            return replace(self, gates=tuple(replace(g, max_revisions=limit) for g in self.gates))
        return self

    def parse_options(self, options: Mapping[str, Any] | BaseModel | None) -> BaseModel | None:
        if self.options is None:
            if options:
                raise SpecError(f"pattern {self.name!r} takes no options, got {dict(options)}")
            return None
        if isinstance(options, self.options):
            return options
        try:
            return self.options.model_validate(dict(options or {}))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise SpecError(f"options of pattern {self.name!r}: {problems}") from None

    def stage_agents(self, agents: Mapping[str, Agent]) -> dict[str, list[str]]:
        """The agents of each stage, by name."""
        out: dict[str, list[str]] = {}
        for stage in self.stages:
            out[stage.name] = sorted(
                name
                for name, agent in agents.items()
                if (agent.role.debates if stage.roles is None else agent.role.name in stage.roles)
            )
        return out

    def check_swarm(self, agents: Mapping[str, Agent], plan: Plan) -> None:
        """Refuse, naming the problem, a swarm this pattern cannot run."""
        check_aggregation(plan.aggregate)
        if plan.aggregate not in self.aggregations:
            raise SpecError(
                f"pattern {self.name!r} aggregates by {', '.join(self.aggregations)}, "
                f"not {plan.aggregate!r}"
            )
        have = {agent.role.name for agent in agents.values()}
        if missing := [role for role in self.roles if role not in have]:
            raise SpecError(
                f"pattern {self.name!r} needs agents with the roles {', '.join(self.roles)}; "
                f"missing: {', '.join(missing)}"
            )
        for stage, names in self.stage_agents(agents).items():
            if not names:
                raise SpecError(f"stage {stage!r} of pattern {self.name!r} has no agents")
        if plan.aggregate == "judge" and len(self.judges(agents)) != 1:
            raise SpecError(
                f"aggregate='judge' needs exactly one agent with a non-debating role such as "
                f"'judge'; found {len(self.judges(agents))}"
            )

    @staticmethod
    def judges(agents: Mapping[str, Agent]) -> list[str]:
        return sorted(name for name, agent in agents.items() if not agent.role.debates)

    def voter_stage(self) -> Stage:
        return (
            next(s for s in self.stages if s.name == self.voters)
            if self.voters
            else (self.stages[-1])
        )

    # -- running -------------------------------------------------------------------------------

    async def run(self, ctx: RunContext, plan: Plan) -> Outcome:
        """Work the task through the stages, round by round; then aggregate."""
        run = _PatternRun(self, ctx, plan)
        return await run.run()


class _PatternRun:
    """One run of a pattern: its mail, what each agent said last, the rounds done."""

    def __init__(self, pattern: Pattern, ctx: RunContext, plan: Plan) -> None:
        self.pattern = pattern
        self.ctx = ctx
        self.plan = plan
        self.members = pattern.stage_agents(ctx.agents)
        self.participants = sorted({n for names in self.members.values() for n in names})
        self.voters = self.members[pattern.voter_stage().name]
        self.roles = {name: agent.role.name for name, agent in ctx.agents.items()}
        self.mail = Mailbox(self.participants)
        self.last: dict[str, AgentMessage] = {}
        self.spoke: dict[str, tuple[int, int]] = {}  # (step, order in it) of each last word
        self.steps = 0

    async def run(self) -> Outcome:
        task = self.ctx.post_task(self.participants)
        self.mail.post(task, self.participants)
        stop: StopReason = "max_rounds"
        detail = ""
        done = 0
        for rnd in range(self.plan.rounds):
            view = RoundView(rnd, self.roles)
            ended = await self._round(view)
            if ended is not None:
                stop, detail = ended
                if stop != "budget":
                    done = rnd + 1
                break
            done = rnd + 1
            if done == self.plan.rounds:
                break
            rule = next((r for r in self._stop_rules() if r.check(view, self.voters)), None)
            if rule is not None:
                stop, detail = rule.reason, rule.name
                break
        answer, aggregate_stop = await self._aggregate(done)
        if aggregate_stop is not None:
            stop = aggregate_stop
        scored = self.pattern.scorer(self.ctx.task, answer)
        score = await scored if inspect.isawaitable(scored) else scored
        return Outcome(
            answer=answer,
            stop_reason=stop,
            rounds=done,
            final_answers={n: self.last[n].answer if n in self.last else None for n in self.voters},
            correct=None if score is None else score >= 1.0,
            score=score,
            detail=detail,
        )

    def _stop_rules(self) -> list[StopRule]:
        return [
            rule
            for rule in self.pattern.stop_rules
            if rule is not consensus or self.plan.stop_on_consensus
        ]

    async def _round(self, view: RoundView) -> tuple[StopReason, str] | None:
        """Run the stages and gates of one round; why the run must stop, if it must."""
        for i, stage in enumerate(self.pattern.stages):
            if not await self._stage(view, stage, 0, new_round=i == 0):
                return "budget", stage.name
        for gate in self.pattern.gates:
            attempt = 0
            while True:
                passed = bool(gate.check(view))
                self.ctx.emit(
                    GateChecked(round=view.round, gate=gate.name, passed=passed, attempt=attempt)
                )
                if passed:
                    break
                if attempt >= gate.max_revisions:
                    if gate.on_exhausted == "stop":
                        return "gate_exhausted", gate.name
                    break
                attempt += 1
                for stage in self.pattern.stages:
                    if stage.name in gate.revise and not await self._stage(view, stage, attempt):
                        return "budget", stage.name
        return None

    async def _stage(
        self, view: RoundView, stage: Stage, attempt: int, *, new_round: bool = False
    ) -> bool:
        names = self.members[stage.name]
        inboxes = self.mail.take(names)
        step = await self.ctx.step(
            view.round,
            stage.name,
            inboxes,
            {name: self._recipients(name, stage) for name in names},
            attempt=attempt,
            instruction=stage.instruction,
            new_round=new_round,
        )
        if step is None:
            return False
        self.mail.deliver(step.said)
        view.said.update(step.said)
        view.stages.setdefault(stage.name, {}).update(step.said)
        view.failed.update(step.failed)
        self.last.update(step.said)
        self.steps += 1
        self.spoke.update({name: (self.steps, i) for i, name in enumerate(sorted(step.said))})
        return True

    def _recipients(self, sender: str, stage: Stage) -> tuple[str, ...]:
        """Who hears what ``sender`` says in ``stage``: the hearing rules read backwards."""
        out: set[str] = set()
        graph = self.ctx.graph
        for other in self.pattern.stages:
            members = self.members[other.name]
            if other.hears == "graph":
                if other is stage and sender in graph:
                    out |= {v for v in graph.successors(sender) if v in members}
            elif stage.name in other.hears:
                out |= {name for name in members if name != sender}
        return tuple(sorted(out))

    async def _aggregate(self, rounds: int) -> tuple[str | None, StopReason | None]:
        method = self.plan.aggregate
        finals = {n: self.last[n] for n in sorted(self.last) if n in self.voters}
        votes = [
            Vote(name, msg.answer, msg.confidence)
            for name, msg in finals.items()
            if msg.answer is not None
        ]
        for vote in votes:
            self.ctx.emit(
                VoteCast(
                    round=rounds, agent=vote.agent, answer=vote.answer, weight=vote.weight(method)
                )
            )
        stop: StopReason | None = None
        judges = Pattern.judges(self.ctx.agents)
        if method == "judge" and judges and finals:
            answer, tally, method = await self._judge(judges[0], rounds, finals)
            if answer is None and method != "judge":
                answer, tally = aggregate_votes(votes, "majority")
                stop = "budget"
        elif method == "last":
            final = finals[max(finals, key=lambda n: self.spoke[n])] if finals else None
            answer = None if final is None else final.content
            tally = {} if answer is None else {answer: 1.0}
        else:
            answer, tally = aggregate_votes(votes, "majority" if method == "judge" else method)
        self.ctx.emit(Aggregated(round=rounds, method=method, answer=answer, tally=tally))
        return answer, stop

    async def _judge(
        self, judge: str, rounds: int, finals: Mapping[str, AgentMessage]
    ) -> tuple[str | None, dict[str, float], str]:
        inbox: Inbox = [finals[name] for name in sorted(finals)]
        step = await self.ctx.step(rounds, "judge", {judge: inbox}, {judge: ()})
        if step is None:
            return None, {}, "majority"
        verdict = step.said.get(judge)
        if verdict is None or verdict.answer is None:
            return None, {}, "judge"
        return verdict.answer, {verdict.answer: 1.0}, "judge"
