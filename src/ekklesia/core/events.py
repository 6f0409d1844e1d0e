"""Timeline events: what happened in a run, in order, as a discriminated union of frozen models.

Each event has a sequence number, the round it belongs to and a schema version. ``wall_time`` and
the other fields named in :data:`NONDETERMINISTIC_FIELDS` are recorded but never used to decide
anything; a timeline's :func:`fingerprint` leaves them out, so that two runs of the same spec and
seed compare equal field for field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from ekklesia.core.llm import LLMResponse
from ekklesia.core.messages import AgentMessage, TaskMessage

__all__ = [
    "EVENT_ADAPTER",
    "NONDETERMINISTIC_FIELDS",
    "SCHEMA_VERSION",
    "STOP_REASONS",
    "AgentFailed",
    "Aggregated",
    "AnyEvent",
    "CallRefused",
    "ColumnStats",
    "Event",
    "GateChecked",
    "HostRestarted",
    "MailSent",
    "MemoryOp",
    "MessageSent",
    "ModelCalled",
    "PopulationStats",
    "RoundMeasured",
    "RoundStarted",
    "RunCancelled",
    "RunErrored",
    "RunFinished",
    "RunOrigin",
    "RunStarted",
    "RunStopped",
    "StageStarted",
    "StatesSaved",
    "StopReason",
    "StrategyChosen",
    "ToolCalled",
    "Usage",
    "VoteCast",
    "fingerprint",
    "strip_nondeterministic",
]

SCHEMA_VERSION = 1

#: Fields recorded for people and tools but excluded when timelines are compared.
NONDETERMINISTIC_FIELDS = frozenset(
    {
        "wall_time",
        "run_id",
        "latency_s",
        "duration_s",
        "trace",
        "placement",
        "timeline_path",
        "pid",
        "hostname",
        "origin",
    }
)
#: Events that record what the machine did, not what the swarm did.
OPERATIONAL_EVENTS = frozenset({"host_restarted"})


class Usage(BaseModel):
    """Tokens and dollars. ``unpriced_calls`` counts calls whose cost is unknown."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0
    calls: int = 0
    unpriced_calls: int = 0
    tool_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            usd=self.usd + other.usd,
            calls=self.calls + other.calls,
            unpriced_calls=self.unpriced_calls + other.unpriced_calls,
            tool_calls=self.tool_calls + other.tool_calls,
        )

    @classmethod
    def of(cls, response: LLMResponse) -> Usage:
        return cls(
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            usd=response.cost_usd or 0.0,
            calls=1,
            unpriced_calls=int(response.cost_usd is None and response.ok),
        )

    @classmethod
    def of_tool(cls, cost_usd: float, ran: bool = True) -> Usage:
        return cls(usd=cost_usd, tool_calls=int(ran))


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int = -1
    run_id: str = ""
    round: int = 0
    schema_version: int = SCHEMA_VERSION
    wall_time: float = 0.0


class RunOrigin(BaseModel):
    """Who started a run and as part of what: the session (every run of one command or one HTTP
    request shares it), the command for people to read, and the API key's id over HTTP."""

    model_config = ConfigDict(frozen=True)

    session: str = ""
    command: str = ""
    key: str = ""


class RunStarted(_Event):
    """The spec and the task, as validated. ``tags`` say what ran (pattern, task kind) for the
    tools that read many timelines; ``pid`` and ``hostname`` tell a run still going from one that
    died; ``origin`` groups it with the other runs of its session (empty in older timelines)."""

    kind: Literal["run_started"] = "run_started"
    spec: dict[str, Any]
    task: dict[str, Any]
    placement: dict[str, list[str]] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    pid: int = 0
    hostname: str = ""
    origin: RunOrigin = Field(default_factory=RunOrigin)


class RoundStarted(_Event):
    kind: Literal["round_started"] = "round_started"
    agents: tuple[str, ...]


class StageStarted(_Event):
    """A stage of the pattern begins within a round: these agents step; ``attempt`` counts the
    revisions a gate asked for (0 for the first run of the stage in the round)."""

    kind: Literal["stage_started"] = "stage_started"
    stage: str
    attempt: int = 0
    agents: tuple[str, ...]


class MessageSent(_Event):
    kind: Literal["message"] = "message"
    message: Annotated[TaskMessage | AgentMessage, Field(discriminator="kind")]


class ModelCalled(_Event):
    """One model call of an agent's step: a digest of the request, the response, and the names of
    the tools the request offered (so a replay offers them again and asks the same thing)."""

    kind: Literal["model_call"] = "model_call"
    agent: str
    call_index: int
    request_digest: str
    response: LLMResponse
    offered_tools: tuple[str, ...] = ()


class CallRefused(_Event):
    kind: Literal["call_refused"] = "call_refused"
    agent: str
    call_index: int = 0
    reason: str


class ToolCalled(_Event):
    """One tool call of an agent's step: the arguments, the result (as JSON) or the error.

    ``call_index`` counts the agent's tool calls within the round, so a replay returns the
    recorded results in order; ``result_digest`` lets tools compare results without reading them.
    """

    kind: Literal["tool_call"] = "tool_call"
    agent: str
    call_index: int
    tool: str
    arguments: dict[str, JsonValue]
    result: JsonValue = None
    error: str | None = None
    latency_s: float = 0.0
    cost_usd: float = 0.0
    result_digest: str = ""
    ran: bool = True
    """False when the call was refused before the tool ran (bad arguments, budget, unknown)."""

    @property
    def ok(self) -> bool:
        return self.error is None


class AgentFailed(_Event):
    kind: Literal["agent_failed"] = "agent_failed"
    agent: str
    error: str


class HostRestarted(_Event):
    kind: Literal["host_restarted"] = "host_restarted"
    host: str
    agents: tuple[str, ...]
    error: str


class MemoryOp(_Event):
    """An agent's read or write of shared memory, as seen from its step."""

    kind: Literal["memory"] = "memory"
    agent: str
    op: Literal["remember", "recall", "forget"]
    scope: str
    detail: dict[str, Any] = Field(default_factory=dict)


class VoteCast(_Event):
    kind: Literal["vote"] = "vote"
    agent: str
    answer: str
    weight: float


class Aggregated(_Event):
    kind: Literal["aggregated"] = "aggregated"
    method: str
    answer: str | None
    tally: dict[str, float]


class GateChecked(_Event):
    """A quality gate's check over the round's output; ``attempt`` counts earlier failures."""

    kind: Literal["gate"] = "gate"
    gate: str
    passed: bool
    attempt: int = 0
    detail: str = ""


#: Why a run stopped: the built-in stop rules, and ``stop_rule`` for a pattern's own.
StopReason = Literal[
    "max_rounds", "consensus", "budget", "gate_exhausted", "stop_rule", "cancelled", "error"
]
STOP_REASONS: tuple[str, ...] = StopReason.__args__  # type: ignore[attr-defined]


class RunStopped(_Event):
    kind: Literal["run_stopped"] = "run_stopped"
    reason: StopReason
    rounds_completed: int
    detail: str = ""


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    answer: str | None
    expected: str | None
    correct: bool | None
    stop_reason: str
    rounds: int
    usage: Usage
    score: float | None = None


class StrategyChosen(_Event):
    """Which strategy a learner chose for this run, and how likely its randomised policy was to
    choose each candidate (``propensities``, summing to 1; ``propensity`` is the chosen one's).
    Recorded right after ``run_started`` so that off-policy estimates can be read from the
    timelines alone; ``objective`` is the expression the learner optimised."""

    kind: Literal["strategy_chosen"] = "strategy_chosen"
    learner: str
    decision: int
    strategy: str
    propensity: float
    propensities: dict[str, float]
    objective: str = "accuracy"


class RunErrored(_Event):
    kind: Literal["run_error"] = "run_error"
    error: str


class RunCancelled(_Event):
    """The run was cancelled (``task.cancel()``, Ctrl-C, a client): it ends here, cleanly."""

    kind: Literal["run_cancelled"] = "run_cancelled"
    reason: str = "cancelled"


class ColumnStats(BaseModel):
    """One state column of a population at the end of a round (``None``: not a number)."""

    model_config = ConfigDict(frozen=True)

    mean: float | None
    min: float | None
    max: float | None


class PopulationStats(BaseModel):
    """A population at the end of a round: its columns, and the mail it sent in the round.

    ``sent`` counts rows (a broadcast is one row); ``delivered`` counts what agents heard (a
    broadcast counts once per agent of the population it reached).
    """

    model_config = ConfigDict(frozen=True)

    agents: int
    sent: int
    delivered: int
    columns: dict[str, ColumnStats]


class RoundMeasured(_Event):
    """The per-round aggregates of a simulation, one entry per population."""

    kind: Literal["round_measured"] = "round_measured"
    populations: dict[str, PopulationStats]


class MailSent(_Event):
    """One message between population agents, as recorded: every message of a full-fidelity
    run, or the seeded sample of a large one. ``to`` names a population when ``broadcast``."""

    kind: Literal["mail"] = "mail"
    phase: int = 0
    sender: str
    to: str
    broadcast: bool = False
    payload: dict[str, float | int | bool]


class StatesSaved(_Event):
    """Where a simulation's final per-agent states were written (Parquet, one file per
    population, in the ``<run_id>.states`` folder beside the timeline) and a digest of each."""

    kind: Literal["states_saved"] = "states_saved"
    populations: dict[str, dict[str, str | int]]


AnyEvent: TypeAlias = (
    RunStarted
    | RoundStarted
    | StageStarted
    | MessageSent
    | ModelCalled
    | ToolCalled
    | CallRefused
    | AgentFailed
    | HostRestarted
    | MemoryOp
    | GateChecked
    | VoteCast
    | Aggregated
    | RunStopped
    | RunFinished
    | StrategyChosen
    | RunErrored
    | RunCancelled
    | RoundMeasured
    | MailSent
    | StatesSaved
)
#: Every event, discriminated by ``kind``: the one type timelines read and write.
Event = Annotated[AnyEvent, Field(discriminator="kind")]
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(Event)


def strip_nondeterministic(value: Any) -> Any:
    """``value`` (plain data) without the fields in NONDETERMINISTIC_FIELDS, at any depth."""
    if isinstance(value, dict):
        return {
            k: strip_nondeterministic(v)
            for k, v in value.items()
            if k not in NONDETERMINISTIC_FIELDS
        }
    if isinstance(value, list):
        return [strip_nondeterministic(v) for v in value]
    return value


def fingerprint(events: list[AnyEvent]) -> list[dict[str, Any]]:
    """The events as plain data without wall-clock and placement fields, nor operational events.

    Sequence numbers are renumbered so that a run that recorded a host restart compares equal to
    one that did not.
    """
    kept = [e for e in events if e.kind not in OPERATIONAL_EVENTS]
    out = []
    for i, event in enumerate(kept):
        data = strip_nondeterministic(event.model_dump(mode="json"))
        data["seq"] = i
        out.append(data)
    return out
