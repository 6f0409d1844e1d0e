"""``ekklesia research "QUESTION"``: a cited, fact-checked report from the web or your documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown

from ekklesia.cli._common import console, fail, json_stdout, one_line_errors

__all__ = ["register"]

_MODES = ("vector", "text", "hybrid")


def research(
    question: Annotated[str, typer.Argument(help="The question to research.")],
    provider: Annotated[
        list[str] | None,
        typer.Option(
            help="local|tavily|exa|serper|perplexity; repeat it to search several in parallel."
        ),
    ] = None,
    depth: Annotated[str, typer.Option(help="quick|balanced|deep.")] = "balanced",
    model: Annotated[str, typer.Option(help="Model spec of every team member.")] = "sim",
    index: Annotated[str, typer.Option(help="Which index the local provider searches.")] = (
        "default"
    ),
    search_mode: Annotated[
        str, typer.Option(help="How the local provider searches: vector|text|hybrid.")
    ] = "hybrid",
    single: Annotated[
        bool, typer.Option(help="One researcher and no fact-checker (research_single).")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 0,
    out: Annotated[Path | None, typer.Option(help="Save the Markdown report to FILE.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout.")
    ] = False,
) -> None:
    """Plan, search, read, fact-check and write a report with [n] citations and a confidence."""
    from ekklesia.research.run import research as run_research

    with json_stdout(as_json) as emit, one_line_errors():
        if search_mode not in _MODES:
            fail(f"--search-mode must be one of {'|'.join(_MODES)}, got {search_mode!r}")
        report = run_research(
            question,
            provider=provider or ["local"],
            depth=depth,
            model=model,
            index=index,
            mode=search_mode,  # type: ignore[arg-type]  # checked above
            pattern="research_single" if single else "research",
            seed=seed,
        )
        if out is not None:
            try:
                out.write_text(report.report + "\n", encoding="utf-8")
            except OSError as exc:
                fail(f"--out: cannot write {out}: {exc.strerror or exc}")
        if as_json:
            emit(json.dumps(report.to_json()))
    if not as_json:
        console.print(Markdown(report.report))
        console.print(
            f"[dim]run {report.run_id}: {report.usage.input_tokens:,}+"
            f"{report.usage.output_tokens:,} tokens, ${report.usage.usd:.4f}[/]"
        )


def register(app: typer.Typer) -> None:
    app.command("research")(research)
