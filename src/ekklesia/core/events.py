"""Timeline events: what happened in a run, in order, as a discriminated union of frozen models.

Each event has a sequence number, the round it belongs to and a schema version. ``wall_time`` and
the other fields named in :data:`NONDETERMINISTIC_FIELDS` are recorded but never used to decide
anything; a timeline's :func:`fingerprint` leaves them out, so that two runs of the same spec and
seed compare equal field for field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ekklesia.core.llm import LLMResponse
from ekklesia.core.messages import AgentMessage, TaskMessage

__all__ = [
    "EVENT_ADAPTER",
    "NONDETERMINISTIC_FIELDS",
    "SCHEMA_VERSION",
    "AgentFailed",
    "Aggregated",
    "CallRefused",
    "ColumnStats",
    "Event",
    "HostRestarted",
    "MailSent",
    "MemoryOp",
    "MessageSent",
    "ModelCalled",
    "PopulationStats",
    "RoundMeasured",
    "RoundStarted",
    "RunErrored",
    "RunFinished",
    "RunStarted",
    "RunStopped",
    "StatesSaved",
    "StopReason",
    "Usage",
    "VoteCast",
    "fingerprint",
]

SCHEMA_VERSION = 1

#: Fields recorded for people and tools but excluded when timelines are compared.
NONDETERMINISTIC_FIELDS = frozenset(
    {"wall_time", "run_id", "latency_s", "trace", "placement", "timeline_path"}
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


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    seq: int = -1
    run_id: str = ""
    round: int = 0
    schema_version: int = SCHEMA_VERSION
    wall_time: float = 0.0


class RunStarted(_Event):
    kind: Literal["run_started"] = "run_started"
    spec: dict[str, Any]
    task: dict[str, Any]
    placement: dict[str, list[str]] = Field(default_factory=dict)


class RoundStarted(_Event):
    kind: Literal["round_started"] = "round_started"
    agents: tuple[str, ...]


class MessageSent(_Event):
    kind: Literal["message"] = "message"
    message: Annotated[TaskMessage | AgentMessage, Field(discriminator="kind")]


class ModelCalled(_Event):
    kind: Literal["model_call"] = "model_call"
    agent: str
    call_index: int
    request_digest: str
    response: LLMResponse


class CallRefused(_Event):
    kind: Literal["call_refused"] = "call_refused"
    agent: str
    call_index: int = 0
    reason: str


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


StopReason = Literal["max_rounds", "consensus", "budget", "error"]


class RunStopped(_Event):
    kind: Literal["run_stopped"] = "run_stopped"
    reason: StopReason
    rounds_completed: int


class RunFinished(_Event):
    kind: Literal["run_finished"] = "run_finished"
    answer: str | None
    expected: str | None
    correct: bool | None
    stop_reason: str
    rounds: int
    usage: Usage


class RunErrored(_Event):
    kind: Literal["run_error"] = "run_error"
    error: str


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


Event = Annotated[
    RunStarted
    | RoundStarted
    | MessageSent
    | ModelCalled
    | CallRefused
    | AgentFailed
    | HostRestarted
    | MemoryOp
    | VoteCast
    | Aggregated
    | RunStopped
    | RunFinished
    | RunErrored
    | RoundMeasured
    | MailSent
    | StatesSaved,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in NONDETERMINISTIC_FIELDS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def fingerprint(events: list[Any]) -> list[dict[str, Any]]:
    """The events as plain data without wall-clock and placement fields, nor operational events.

    Sequence numbers are renumbered so that a run that recorded a host restart compares equal to
    one that did not.
    """
    kept = [e for e in events if e.kind not in OPERATIONAL_EVENTS]
    out = []
    for i, event in enumerate(kept):
        data = _strip(event.model_dump(mode="json"))
        data["seq"] = i
        out.append(data)
    return out
