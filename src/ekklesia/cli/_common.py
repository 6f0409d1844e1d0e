"""What the commands share: one-line errors, the console, rendering a transcript."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ekklesia.errors import EkklesiaError
from ekklesia.runtime.events import (
    AgentFailed,
    Aggregated,
    CallRefused,
    HostRestarted,
    MemoryOp,
    MessageSent,
    ModelCalled,
    RoundStarted,
    RunErrored,
    RunFinished,
)
from ekklesia.runtime.messages import AgentMessage
from ekklesia.runtime.timeline import Timeline

__all__ = ["console", "err_console", "fail", "one_line_errors", "render_transcript"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn ekklesia's errors into one clear line on stderr and a non-zero exit, no traceback."""
    try:
        yield
    except EkklesiaError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


def _usd(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:.6f}"


def render_transcript(timeline: Timeline, out: Console | None = None) -> None:
    """The run round by round: who said what, with each call's tokens and cost."""
    out = out or console
    started = timeline.started
    out.print(f"[bold]run {timeline.run_id}[/]  task {escape(str(started.task.get('id')))}")
    out.print(f"[dim]{escape(str(started.task.get('prompt')))}[/]")
    calls: dict[tuple[str, int], ModelCalled] = {}
    for event in timeline.events:
        if isinstance(event, ModelCalled):
            calls[(event.agent, event.round)] = event
    for event in timeline.events:
        if isinstance(event, RoundStarted):
            out.rule(f"round {event.round + 1}")
        elif isinstance(event, MessageSent) and isinstance(event.message, AgentMessage):
            msg = event.message
            call = calls.get((msg.sender, msg.round))
            usage = ""
            if call is not None:
                r = call.response
                usage = f"  [dim]{r.input_tokens}+{r.output_tokens} tokens, {_usd(r.cost_usd)}[/]"
            answer = "—" if msg.answer is None else msg.answer
            out.print(
                f"[bold cyan]{escape(msg.sender)}[/] → answer [bold]{escape(answer)}[/]{usage}"
            )
            for line in msg.content.splitlines():
                out.print(f"    {escape(line)}")
        elif isinstance(event, CallRefused):
            out.print(f"[yellow]{escape(event.agent)}: call refused — {escape(event.reason)}[/]")
        elif isinstance(event, AgentFailed):
            out.print(f"[red]{escape(event.agent)} failed: {escape(event.error)}[/]")
        elif isinstance(event, HostRestarted):
            out.print(f"[yellow]host {escape(event.host)} restarted ({escape(event.error)})[/]")
        elif isinstance(event, MemoryOp):
            out.print(f"[dim]{escape(event.agent)} memory {event.op} ({escape(event.scope)})[/]")
        elif isinstance(event, Aggregated):
            out.rule("result")
            out.print(f"{event.method}: [bold]{escape(str(event.answer))}[/]  tally {event.tally}")
        elif isinstance(event, RunFinished):
            verdict = {True: "[green]correct[/]", False: "[red]wrong[/]", None: "no answer key"}
            u = event.usage
            out.print(
                f"expected {escape(str(event.expected))}: {verdict[event.correct]}; "
                f"stopped by {event.stop_reason} after {event.rounds} round(s); "
                f"{u.input_tokens}+{u.output_tokens} tokens, ${u.usd:.6f}"
            )
        elif isinstance(event, RunErrored):
            out.print(f"[red]run failed: {escape(event.error)}[/]")
