"""Sessions: the runs of one command, or of one HTTP request, recorded under one id.

A run records the :class:`~ekklesia.core.events.RunOrigin` current when its recorder is made (in
its ``run_started`` event), so that cost reports and run lists can group the hundred runs of one
``ekklesia run`` as one line. The origin is a context variable: set it for a scope with
:func:`session`, and every run started inside — in asyncio tasks started there too — carries it::

    with session(command="POST /v1/runs", key=key_id) as origin:
        await swarm.arun(task)          # recorded with origin.session

Outside any :func:`session` scope a process has one default session, made on first use, so the
runs of one script group together as well.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ekklesia.core.events import RunOrigin

__all__ = ["current_origin", "new_session_id", "session"]

_current: ContextVar[RunOrigin | None] = ContextVar("ekklesia_run_origin", default=None)
_process_default: RunOrigin | None = None


def new_session_id() -> str:
    """``s-`` and 8 random hex digits: short enough for a column, unique without coordination
    (sessions are ordered by their runs' start times, which the runs record)."""
    return f"s-{secrets.token_hex(4)}"


@contextmanager
def session(id: str | None = None, *, command: str = "", key: str = "") -> Iterator[RunOrigin]:
    """Record every run started in this scope under one session (a new id unless given)."""
    origin = RunOrigin(session=id or new_session_id(), command=command, key=key)
    token = _current.set(origin)
    try:
        yield origin
    finally:
        _current.reset(token)


def current_origin() -> RunOrigin:
    """The origin set by the innermost :func:`session`, else the process's default session."""
    global _process_default
    origin = _current.get()
    if origin is not None:
        return origin
    if _process_default is None:
        command = " ".join(["python", *sys.argv])[:200] if sys.argv and sys.argv[0] else "python"
        _process_default = RunOrigin(session=new_session_id(), command=command)
    return _process_default
