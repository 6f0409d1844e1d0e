"""What the commands share: one-line errors, the console, a stdout kept for JSON, and printing
events — a finished run's transcript or a live run's events as they come."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ekklesia.core.events import (
    AgentFailed,
    Aggregated,
    AnyEvent,
    CallRefused,
    GateChecked,
    HostRestarted,
    MailSent,
    MemoryOp,
    MessageSent,
    ModelCalled,
    RoundMeasured,
    RoundStarted,
    RunCancelled,
    RunErrored,
    RunFinished,
    StageStarted,
    StatesSaved,
    ToolCalled,
)
from ekklesia.core.messages import AgentMessage
from ekklesia.errors import EkklesiaError
from ekklesia.patterns.spec import one_line
from ekklesia.runtime.timeline import Timeline

__all__ = [
    "EventPrinter",
    "command_line",
    "console",
    "err_console",
    "fail",
    "json_stdout",
    "one_line_errors",
    "render_transcript",
]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
F = TypeVar("F", bound=Callable[..., Any])


def command_line(ctx: typer.Context) -> str:
    """The command as typed, for people reading a session: its path and the options given."""
    words: list[str] = []
    node: typer.Context | None = ctx
    while node is not None and node.parent is not None:  # the root's name is how it was started
        words.insert(0, node.info_name or "")
        node = node.parent  # type: ignore[assignment]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name) if param.name else None
        if param.name is None or source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params[param.name]
        name = param.opts[0] if param.param_type_name == "option" else ""
        if getattr(param, "is_flag", False):
            words.append(name)
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            words += [name, str(getattr(item, "value", item))] if name else [str(item)]
    return shlex.join(["ekklesia", *words])


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # one line
    raise typer.Exit(code)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn ekklesia's errors into one clear line on stderr and a non-zero exit, no traceback."""
    try:
        yield
    except EkklesiaError as exc:
        fail(str(exc))
    except ValidationError as exc:  # a value checked by a model deeper down: still one line
        fail(one_line(exc))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


def _stdout_fd() -> int | None:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


@contextmanager
def json_stdout(enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """Keep standard output for the JSON a command prints, whatever else writes to it.

    Inside the block file descriptor 1 points at standard error, so messages from Ray's processes
    and its native code (which write to the descriptor, not to ``sys.stdout``) land there; the
    function it yields writes a line to the real standard output.
    """
    if not enabled or _stdout_fd() != 1:  # captured (a test runner): nothing to keep apart
        yield typer.echo
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)

    def write(text: str) -> None:
        sys.stdout.flush()
        os.write(saved, (text + "\n").encode())

    try:
        yield write
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _usd(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:.6f}"


class EventPrinter:
    """Prints events one at a time, as a transcript: round by round, who said what, each call's
    tokens and cost. The same for a finished timeline and for a run followed live."""

    def __init__(self, out: Console | None = None) -> None:
        self.out = out or console
        self.calls: dict[tuple[str, int], ModelCalled] = {}
        self.sim_round = -1  # simulations have no round_started: a rule opens each round

    def print(self, event: AnyEvent) -> None:
        out = self.out
        if isinstance(event, ModelCalled):
            self.calls[(event.agent, event.round)] = event
        if isinstance(event, MailSent | RoundMeasured) and event.round != self.sim_round:
            self.sim_round = event.round
            out.rule(f"round {self.sim_round + 1}")
        if isinstance(event, RoundStarted):
            out.rule(f"round {event.round + 1}")
        elif isinstance(event, StageStarted):
            if event.stage not in ("debate", "judge") or event.attempt:
                again = f" (revision {event.attempt})" if event.attempt else ""
                out.print(f"[dim]stage {escape(event.stage)}{again}: {', '.join(event.agents)}[/]")
        elif isinstance(event, MessageSent) and isinstance(event.message, AgentMessage):
            msg = event.message
            call = self.calls.get((msg.sender, msg.round))
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
        elif isinstance(event, ToolCalled):
            outcome = "ok" if event.error is None else f"failed: {event.error}"
            out.print(
                f"[dim]{escape(event.agent)} tool {escape(event.tool)} "
                f"({event.latency_s * 1000:.0f} ms) {escape(outcome)}[/]"
            )
        elif isinstance(event, GateChecked):
            mark = "[green]passed[/]" if event.passed else "[yellow]failed[/]"
            out.print(f"gate {escape(event.gate)} {mark}")
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
        elif isinstance(event, RunCancelled):
            out.print(f"[yellow]run cancelled ({escape(event.reason)})[/]")


_STATUS = {
    "running": "[yellow]still running[/]",
    "died": "[red]died before it finished: the timeline holds the rounds it completed[/]",
    "failed": "[red]failed[/]",
    "cancelled": "[yellow]cancelled[/]",
}


def render_transcript(timeline: Timeline, out: Console | None = None) -> None:
    """The run round by round: who said what, with each call's tokens and cost."""
    out = out or console
    started = timeline.started
    out.print(f"[bold]run {timeline.run_id}[/]  task {escape(str(started.task.get('id')))}")
    if timeline.status in _STATUS:
        out.print(f"status: {_STATUS[timeline.status]}")
    out.print(f"[dim]{escape(str(started.task.get('prompt')))}[/]")
    printer = EventPrinter(out)
    for event in timeline.events:
        if isinstance(event, ModelCalled):
            printer.calls[(event.agent, event.round)] = event
    for event in timeline.events:
        printer.print(event)


def progress_bar(label: str, *, quiet: bool) -> Progress:
    """The bar of a long command, on stderr (so ``--json`` stdout stays clean), gone when done."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=quiet,
        transient=True,
    )
