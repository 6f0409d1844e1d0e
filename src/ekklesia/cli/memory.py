"""``ekklesia index`` and ``ekklesia search``: documents and code in the memory's vector tier."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ekklesia.cli._common import console, err_console, fail, one_line_errors
from ekklesia.memory.indexer import IndexReport, index_home, open_indexer
from ekklesia.memory.query import SearchMode

__all__ = ["register"]

_MODES = ("vector", "text", "hybrid")


def index(
    path: Annotated[
        Path, typer.Argument(help="A folder (documents, a code repository) or a file.")
    ],
    name: Annotated[str, typer.Option(help="Which index to add to.")] = "default",
    replicas: Annotated[int, typer.Option(help="Embedder actors working in parallel.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Index PATH for search: only new and changed files are embedded; deleted ones are removed."""
    with one_line_errors():
        if replicas < 1:
            fail(f"--replicas must be >= 1, got {replicas}")
        indexer = open_indexer(name, replicas=replicas)
        with Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files, {task.fields[chunks]} chunks"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("index", total=None, chunks=0)

            def advance(done: int, total: int, chunks: int) -> None:
                bar.update(task, completed=done, total=total, chunks=chunks)

            report = asyncio.run(indexer.index(path, progress=advance))
    if as_json:
        print(report.model_dump_json())
        return
    _summary(report, name)


def _summary(report: IndexReport, name: str) -> None:
    console.print(
        f"indexed [bold]{escape(report.path)}[/] into {escape(str(index_home(name)))}: "
        f"{report.files_indexed} file(s) new or changed, {report.files_unchanged} unchanged, "
        f"{report.files_deleted} deleted; {report.chunks_added} chunk(s) embedded, "
        f"{report.chunks_removed} removed in {report.wall_s:.1f}s"
    )
    if report.files_skipped:
        console.print(
            f"skipped {report.files_skipped} file(s): {report.skipped_binary} binary, "
            f"{report.skipped_not_utf8} not UTF-8, {report.skipped_too_large} too large, "
            f"{report.skipped_unreadable} unreadable"
        )
        for line in report.skipped[:10]:
            console.print(f"  [dim]{escape(line)}[/]")


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", help="How many hits.")] = 5,
    mode: Annotated[str, typer.Option(help="vector, text or hybrid.")] = "hybrid",
    name: Annotated[str, typer.Option(help="Which index to search.")] = "default",
    as_json: Annotated[bool, typer.Option("--json", help="Print the hits as JSON.")] = False,
) -> None:
    """Search what `ekklesia index` indexed."""
    with one_line_errors():
        if mode not in _MODES:
            fail(f"--mode must be one of {', '.join(_MODES)}, got {mode!r}")
        if k < 1:
            fail(f"--k must be >= 1, got {k}")
        if not (index_home(name) / "index.sqlite").exists():
            fail(f"no index called {name!r} yet: run `ekklesia index PATH` first")
        chosen: SearchMode = mode  # type: ignore[assignment]  # checked above
        hits = asyncio.run(open_indexer(name, on_ray=False).search(query, k=k, mode=chosen))
    if as_json:
        rows = [{"path": h.source, "chunk": h.text, "score": h.score, "tier": h.tier} for h in hits]
        print(json.dumps(rows))
        return
    if not hits:
        console.print("no hits")
    for rank, hit in enumerate(hits, start=1):
        meta = hit.entry.meta
        where = f"{hit.source}:{meta.get('start_line', '?')}-{meta.get('end_line', '?')}"
        label = f" {meta['name']}" if meta.get("name") else ""
        console.print(
            f"[bold]{rank}.[/] {escape(where)}[cyan]{escape(str(label))}[/]  "
            f"[dim]score {hit.score:.4f} ({hit.tier})[/]"
        )
        for line in textwrap.dedent(hit.text).strip("\n").splitlines()[:4]:
            console.print(f"    {escape(line)}")


def register(app: typer.Typer) -> None:
    app.command("index")(index)
    app.command("search")(search)
