"""What the commands share: one-line errors, the console, rendering a transcript."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from ekklesia.core.events import (
    AgentFailed,
    Aggregated,
    CallRefused,
    HostRestarted,
    MailSent,
    MemoryOp,
    MessageSent,
    ModelCalled,
    RoundMeasured,
    RoundStarted,
    RunErrored,
    RunFinished,
    StatesSaved,
)
from ekklesia.core.messages import AgentMessage
from ekklesia.errors import EkklesiaError
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
    sim_round = -1  # simulations have no round_started: a rule opens each round's first event
    for event in timeline.events:
        if isinstance(event, MailSent | RoundMeasured) and event.round != sim_round:
            sim_round = event.round
            out.rule(f"round {sim_round + 1}")
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
        elif isinstance(event, MailSent):
            payload = ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in event.payload.items()
            )
            to = f"everyone in {event.to}" if event.broadcast else event.to
            out.print(f"[dim]mail {escape(event.sender)} → {escape(to)}: {escape(payload)}[/]")
        elif isinstance(event, RoundMeasured):
            for name, stats in event.populations.items():
                columns = ", ".join(
                    f"{col} mean {s.mean:.4g} [{s.min:.4g}, {s.max:.4g}]"
                    for col, s in stats.columns.items()
                    if s.mean is not None and s.min is not None and s.max is not None
                )
                out.print(
                    f"[bold cyan]{escape(name)}[/] ({stats.agents:,} agents) sent {stats.sent:,}, "
                    f"heard {stats.delivered:,}; {escape(columns)}"
                )
        elif isinstance(event, StatesSaved):
            out.rule("final states")
            for name, info in event.populations.items():
                out.print(f"{escape(name)}: {escape(str(info))}")
        elif isinstance(event, RunErrored):
            out.print(f"[red]run failed: {escape(event.error)}[/]")
