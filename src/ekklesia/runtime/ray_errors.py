"""The one boundary where Ray's errors become ekklesia's (as httpx maps transport errors).

Callers never import Ray's exception types: they ask :func:`host_gone` whether an actor died (and
can be restarted), and raise what :func:`run_error` maps everything else to. Ray's own framing —
several lines of "The actor died unexpectedly…" — is cut to the line that says what happened.
"""

from __future__ import annotations

import ray

from ekklesia.errors import EkklesiaError, HostFailure, RunError

__all__ = ["HOST_GONE", "cause", "host_gone", "remote_cause", "run_error"]

#: An actor that died or cannot be reached: restart it from what the driver holds.
HOST_GONE: tuple[type[BaseException], ...] = (
    ray.exceptions.RayActorError,
    ray.exceptions.ActorUnavailableError,
)


def host_gone(exc: BaseException) -> bool:
    return isinstance(exc, HOST_GONE)


def cause(exc: BaseException) -> str:
    """The last line of a Ray error: the original exception, without Ray's framing."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def run_error(what: str, exc: BaseException) -> RunError:
    """The ekklesia error for a failure of ``what`` (for example "host h0 in round 2")."""
    if isinstance(exc, ray.exceptions.ObjectLostError):
        return HostFailure(f"{what}: data held by a lost host is gone ({type(exc).__name__})")
    if host_gone(exc):
        return HostFailure(f"{what}: the host died ({type(exc).__name__})")
    return RunError(f"{what} failed: {cause(exc)}")


def remote_cause(exc: BaseException) -> BaseException:
    """What a remote call raised, without Ray's wrapper: an ekklesia error raised in an actor
    or task comes back as itself (its one-line message), anything else as it is."""
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(exc.cause, EkklesiaError):
        return exc.cause
    return exc
