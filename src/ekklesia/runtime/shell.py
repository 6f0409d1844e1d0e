"""The run shell that swarms and simulations share: a run id, its timeline, how it ends.

:class:`RunRecorder` owns one run's :class:`~ekklesia.runtime.timeline.Timeline`: it stamps and
keeps every event (and hands it to a listener as it is appended — the live stream), appends what
is new to the run's journal when asked (the engines do after every round), and closes the record
however the run ends: with the engine's own closing events and a Parquet file when it finishes,
with ``run_error`` when it raises, with ``run_cancelled`` when it is cancelled. Nothing a run
completed is lost. The ``run_started`` event is stamped with the run's
:class:`~ekklesia.core.events.RunOrigin`: the one given, else the session current when the
recorder is made (:mod:`ekklesia.runtime.session`).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from ekklesia.core.events import AnyEvent, RunCancelled, RunErrored, RunOrigin, RunStarted
from ekklesia.runtime.session import current_origin
from ekklesia.runtime.timeline import HOSTNAME, Timeline

__all__ = ["EventListener", "RunRecorder", "new_run_id"]

EV = TypeVar("EV", bound=AnyEvent)
EventListener = Callable[[AnyEvent], None]


def new_run_id() -> str:
    """Sortable by start time, unique without coordination."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}"


class RunRecorder:
    """Records one run; see the module docstring."""

    def __init__(
        self,
        run_id: str | None = None,
        on_event: EventListener | None = None,
        directory: Path | None = None,
        origin: RunOrigin | None = None,
    ) -> None:
        self.timeline = Timeline(run_id or new_run_id())
        self.on_event = on_event
        self.directory = directory
        self.origin = origin or current_origin()

    @property
    def run_id(self) -> str:
        return self.timeline.run_id

    def emit(self, event: EV) -> EV:
        """Append ``event`` to the timeline and tell the listener."""
        if isinstance(event, RunStarted):
            stamp = {"pid": os.getpid(), "hostname": HOSTNAME, "origin": self.origin}
            event = event.model_copy(update=stamp)
        stamped = self.timeline.append(event)
        if self.on_event is not None:
            self.on_event(stamped)
        return stamped

    def flush(self) -> None:
        """Put what happened since the last flush on disk (the journal)."""
        self.timeline.flush(self.directory)

    def finish(self) -> Path:
        """The run ended as its engine says: write the timeline as Parquet."""
        return self.timeline.write(self.directory)

    @contextmanager
    def closing(self) -> Iterator[RunRecorder]:
        """Close the record if the body raises or is cancelled, then let the error go on."""
        try:
            yield self
        except (asyncio.CancelledError, KeyboardInterrupt):
            self.emit(RunCancelled())
            self.finish()
            raise
        except BaseException as exc:
            self.emit(RunErrored(error=f"{type(exc).__name__}: {exc}"))
            self.finish()
            raise
