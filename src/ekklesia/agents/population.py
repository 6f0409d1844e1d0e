"""Populations: many agents of one kind, written once and stepped as columns.

An :class:`AgentKind` says how every agent of a kind behaves, for a whole slice of agents at once:
its per-agent state is a set of numpy columns (one row per agent), what the slice heard is one
columnar :class:`~ekklesia.core.mail.Inbox`, and what it says is one or more
:class:`~ekklesia.core.mail.Mail` batches. There are no per-agent Python objects, so a host can
step half a million agents in a few vector operations. A :class:`Population` is a kind, a number of
agents and the kind's parameters; a single agent such as a moderator is a population of one.

Writing a kind::

    import numpy as np

    from ekklesia.agents.population import AgentKind, Population
    from ekklesia.simulation import Simulation

    class Gossip(AgentKind):
        # each agent keeps the largest number it has heard and tells its right-hand neighbour

        columns = {"best": "float64"}

        def init(self, state, ctx):
            state["best"][:] = ctx.rng.uniform(0, 100)

        async def step(self, state, inbox, ctx):
            heard = inbox.latest("best", default=-np.inf)  # one value per agent of the slice
            np.maximum(state["best"], heard, out=state["best"])
            right = ctx.agent("gossip", (ctx.index + 1) % ctx.size)
            return ctx.mail(to=right, best=state["best"])

    sim = Simulation([Population(Gossip, n=10_000, name="gossip")], rounds=3, seed=1)
    best = sim.run().final_states("gossip")["best"]
    assert best.shape == (10_000,) and len(np.unique(best)) < 10_000  # large numbers spread

Rules a kind must keep so that runs are reproducible: draw randomness only from ``ctx.rng`` (or
seed your own from ``ctx.seed``), keep every per-agent fact in ``state`` (the engine checkpoints
the columns, not the kind object, which holds parameters only), and never decide on wall time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from ekklesia.core.agent_random import AgentRandom
from ekklesia.core.mail import Ids, Inbox, Mail, broadcast_address
from ekklesia.errors import SpecError

__all__ = [
    "AgentKind",
    "Directory",
    "Population",
    "PopulationContext",
    "State",
    "StepResult",
]

State = dict[str, npt.NDArray[Any]]
StepResult = Mail | Sequence[Mail] | None

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class AgentKind:
    """How every agent of one kind behaves; subclass it. See the module docstring.

    Class attributes:

    ``columns``
        The per-agent state: column name → numpy dtype (``"float64"``, ``"int32"``, ``"bool"``…).
        Columns start at zero; :meth:`init` may set them.
    ``phase``
        When in a round the kind steps. All phase-0 populations step, then their mail is delivered,
        then phase-1 populations step, and so on: a moderator in phase 1 hears the players of the
        same round. Mail to a phase that already stepped is heard next round.
    ``message_bytes``, ``messages_per_agent``, ``scratch_bytes``
        Rough sizes for the memory estimate made before any agent is placed: payload bytes per
        message, messages each agent sends per round, and temporary bytes per agent while stepping.
    """

    columns: ClassVar[Mapping[str, str]] = {}
    phase: ClassVar[int] = 0
    message_bytes: ClassVar[int] = 8
    messages_per_agent: ClassVar[float] = 1.0
    scratch_bytes: ClassVar[int] = 64

    def init(self, state: State, ctx: PopulationContext) -> None:
        """Set the initial state of the slice's agents (``ctx.round`` is -1). Default: zeros."""

    async def step(self, state: State, inbox: Inbox, ctx: PopulationContext) -> StepResult:
        """Update ``state`` in place from ``inbox``; return what the agents say."""
        raise NotImplementedError(f"{type(self).__name__} must define async step()")


@dataclass(frozen=True)
class Directory:
    """Where every population's agents are: its index, first global id and size, by name."""

    entries: Mapping[str, tuple[int, int, int]]

    def lookup(self, population: str) -> tuple[int, int, int]:
        try:
            return self.entries[population]
        except KeyError:
            known = ", ".join(sorted(self.entries))
            raise SpecError(f"no population named {population!r} (known: {known})") from None


@dataclass
class PopulationContext:
    """What a kind sees of the slice it steps: which agents, which round, randomness, addresses.

    ``index`` holds the population-local numbers of the slice's agents (``start .. stop - 1``) and
    ``ids`` their global ids; ``rng`` draws one value per agent of the slice.
    """

    population: str
    round: int
    phase: int
    seed: int
    start: int
    stop: int
    size: int
    first_id: int
    directory: Directory
    rng: AgentRandom
    _index: Ids | None = field(default=None, repr=False)

    @property
    def index(self) -> Ids:
        if self._index is None:
            self._index = np.arange(self.start, self.stop, dtype=np.int64)
        return self._index

    @property
    def ids(self) -> Ids:
        return self.index + self.first_id

    def __len__(self) -> int:
        return self.stop - self.start

    def agent(self, population: str, index: int | Ids = 0) -> Any:
        """The global id(s) of agent(s) ``index`` of ``population``."""
        _, first, size = self.directory.lookup(population)
        if np.any(np.asarray(index) >= size) or np.any(np.asarray(index) < 0):
            raise SpecError(f"population {population!r} has agents 0..{size - 1} only")
        return first + index

    def everyone(self, population: str) -> int:
        """The address of a broadcast to every agent of ``population`` (one row, not n)."""
        number, _, _ = self.directory.lookup(population)
        return broadcast_address(number)

    def mail(
        self,
        to: int | Ids,
        *,
        senders: Ids | None = None,
        **columns: Any,
    ) -> Mail:
        """Messages from ``senders`` (slice-local rows; default every agent of the slice) to
        ``to`` (a global id, an array of them, or :meth:`everyone`), with payload columns given
        as scalars or one value per sender."""
        sender = (
            self.ids
            if senders is None
            else np.asarray(senders, dtype=np.int64) + self.start + self.first_id
        )
        rows = sender.shape[0]
        recipients = np.broadcast_to(np.asarray(to, dtype=np.int64), (rows,))
        payload = {
            name: np.broadcast_to(np.asarray(values), (rows,)) for name, values in columns.items()
        }
        return Mail(sender, recipients, payload)


class Population:
    """``n`` agents of one :class:`AgentKind`, built with ``params`` (keyword arguments of the
    kind's constructor). A population of one is an individual agent, named by the population."""

    def __init__(
        self,
        kind: type[AgentKind],
        n: int = 1,
        *,
        params: Mapping[str, Any] | None = None,
        name: str | None = None,
        phase: int | None = None,
    ) -> None:
        if not (isinstance(kind, type) and issubclass(kind, AgentKind)):
            raise SpecError(f"a population's kind must be a subclass of ek.AgentKind, got {kind!r}")
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise SpecError(f"a population needs n >= 1 agents, got {n!r}")
        name = name if name is not None else kind.__name__.lower()
        if not _NAME.match(name):
            raise SpecError(
                f"population name {name!r} is not valid: start with a letter; use up to 64 "
                "letters, digits, '_' or '-'"
            )
        phase = kind.phase if phase is None else phase
        if isinstance(phase, bool) or not isinstance(phase, int) or phase < 0:
            raise SpecError(f"population {name}: phase must be an integer >= 0, got {phase!r}")
        for column, dtype in kind.columns.items():
            try:
                np.dtype(dtype)
            except TypeError as exc:
                raise SpecError(f"{kind.__name__}.columns[{column!r}]: {exc}") from None
        self.kind = kind
        self.n = int(n)
        self.params = dict(params or {})
        self.name = name
        self.phase = phase
        self.build()  # fail now, not on a host, if the parameters do not fit the kind

    def __repr__(self) -> str:
        return f"Population({self.kind.__name__}, n={self.n:,}, name={self.name!r})"

    def build(self) -> AgentKind:
        try:
            return self.kind(**self.params)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"population {self.name}: {self.kind.__name__}: {exc}") from None

    def agent_name(self, index: int) -> str:
        return self.name if self.n == 1 else f"{self.name}[{index}]"

    @property
    def state_bytes(self) -> int:
        """Bytes of state per agent."""
        return sum(np.dtype(d).itemsize for d in self.kind.columns.values())

    def describe(self) -> dict[str, Any]:
        """What a timeline records of this population."""
        cls = self.kind
        return {
            "name": self.name,
            "kind": f"{cls.__module__}:{cls.__qualname__}",
            "n": self.n,
            "phase": self.phase,
            "params": {k: _plain(v) for k, v in sorted(self.params.items())},
            "columns": dict(cls.columns),
        }


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return repr(value)
