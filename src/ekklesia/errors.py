"""The error tree of ekklesia.

Errors are split by who must act::

    EkklesiaError
    ├── UserError            the caller's mistake: a bad spec, argument or file; fix the input
    │   ├── SpecError        a swarm, graph, model or task spec that cannot run
    │   └── TimelineNotFound no timeline is recorded under that run id
    ├── RunError             a run could not complete although its input was valid
    │   ├── HostFailure      an agent host died and could not be brought back
    │   └── ReplayMismatch   a replay asked for a model call the timeline does not hold
    ├── BudgetExceeded       a model call was refused because it would overrun the budget
    ├── ToolError            a tool call failed: bad arguments, a timeout, the tool's own error
    └── ConnectorError       a call to the outside failed (ekklesia.connectors)
        ├── TransientError   worth retrying: 429, 5xx, timeouts
        ├── PermanentError   not worth retrying: the request itself was refused
        └── CircuitOpen      the endpoint's circuit breaker is open: fail fast

Errors raised by a *model* (a failed completion) are not exceptions of the run: they are recorded on
the call in the timeline and the agent's turn is marked failed, so the stop and aggregation rules
decide what happens next. Errors from Ray are mapped at the boundary (``raise HostFailure(...) from
exc``) so that callers never need to import Ray's exception types.
"""

from __future__ import annotations

__all__ = [
    "BudgetExceeded",
    "CircuitOpen",
    "ConnectorError",
    "EkklesiaError",
    "HostFailure",
    "PermanentError",
    "ReplayMismatch",
    "RunError",
    "SpecError",
    "TimelineNotFound",
    "ToolError",
    "TransientError",
    "UserError",
]


class EkklesiaError(Exception):
    """Base of every error ekklesia raises on purpose."""


class UserError(EkklesiaError):
    """The caller's mistake: the message says what to change."""


class SpecError(UserError):
    """A swarm, graph, model or task specification that cannot run."""


class TimelineNotFound(UserError):
    """No timeline is recorded under the requested run id."""


class RunError(EkklesiaError):
    """A run with valid input could not complete."""


class HostFailure(RunError):
    """An agent host died and could not be restarted within the run's restart allowance."""


class ReplayMismatch(RunError):
    """A replayed run asked for a model call that the recorded timeline does not hold."""


class BudgetExceeded(EkklesiaError):
    """A model call was refused because it would overrun a budget."""


class ToolError(EkklesiaError):
    """A tool call failed. Inside a run it is recorded on the call and the step goes on."""


class ConnectorError(EkklesiaError):
    """A call to an outside service failed. ``status`` is the HTTP status, when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientError(ConnectorError):
    """A failure that another try may not meet: rate limited, server error, timeout."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class PermanentError(ConnectorError):
    """A failure that repeats on every try: a bad request, a wrong key, an unknown model."""


class CircuitOpen(ConnectorError):
    """The endpoint failed too often lately; calls fail fast until its breaker lets one through."""
