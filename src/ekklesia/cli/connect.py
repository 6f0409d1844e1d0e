"""``ekklesia connect add|list|sync``: credentials of search providers and data connectors, and
syncing a data connector's records where ``ekklesia bi --data crm`` queries them."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ekklesia.cli._common import console, fail, json_stdout, one_line_errors
from ekklesia.connectors.credentials import CONNECTORS, credential
from ekklesia.connectors.secrets import credential_store, secret, store_secret

__all__ = ["register"]

connect_app = typer.Typer(
    help="Credentials of search providers and data connectors; sync data connectors.",
    no_args_is_help=True,
)


@connect_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(CONNECTORS)}.")],
    key_stdin: Annotated[
        bool,
        typer.Option(
            "--key-stdin", help="Read the secret(s) from standard input, one a line, in order."
        ),
    ] = False,
) -> None:
    """Store NAME's credentials in $EKKLESIA_HOME/credentials (mode 0600); input is hidden."""
    with one_line_errors():
        found = credential(name)
        lines = sys.stdin.read().splitlines() if key_stdin else []
        if key_stdin and len([x for x in lines if x.strip()]) < len(found.fields):
            wanted = ", ".join(f.secret for f in found.fields)
            fail(f"--key-stdin: {name} needs {len(found.fields)} line(s): {wanted}")
        given = [x.strip() for x in lines if x.strip()]
        for i, field in enumerate(found.fields):
            value = given[i] if key_stdin else typer.prompt(field.prompt, hide_input=field.hidden)
            store_secret(field.secret, value.strip())
    stored = ", ".join(f.secret for f in found.fields)
    console.print(f"stored {escape(stored)} in {escape(str(credential_store()))}")


def _shown(value: str | None, hidden: bool) -> str:
    if value is None:
        return "not set"
    if not hidden:
        return value
    return f"set (…{value[-4:]})" if len(value) >= 16 else "set"


@connect_app.command("list")
def list_connectors(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every connector and whether its credentials are set (never the secrets themselves)."""
    with one_line_errors():
        rows = [
            {
                "name": c.name,
                "kind": c.kind,
                "set": all(secret(f.secret) for f in c.fields),
                "secrets": {f.secret: _shown(secret(f.secret), f.hidden) for f in c.fields},
            }
            for c in CONNECTORS.values()
        ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title="connectors")
    for column in ("name", "kind", "credentials"):
        table.add_column(column)
    for row in rows:
        shown = ", ".join(f"{k}: {v}" for k, v in row["secrets"].items())  # type: ignore[attr-defined]
        table.add_row(str(row["name"]), str(row["kind"]), escape(shown))
    console.print(table)


@connect_app.command("sync")
def sync(
    name: Annotated[str, typer.Argument(help="hubspot, salesforce or gong.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Only records changed since this ISO date or time (default: the cursor)."
        ),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Start over, ignoring the cursor.")] = False,
    base_url: Annotated[
        str | None, typer.Option(help="The API's base URL (default: the vendor's).")
    ] = None,
    objects: Annotated[
        list[str] | None,
        typer.Option(
            "--object",
            help="Sync only this object type (repeatable; default: all of them, e.g. HubSpot's "
            "contacts, companies and deals).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the sync report as JSON.")] = False,
) -> None:
    """Pull NAME's records into the crm database (ekklesia bi --data crm), one table per object
    type, each resuming its cursor. Exits 1 on an error, 75 when the vendor's API allowance is
    spent (the cursor is saved: run it again once the allowance resets)."""
    from ekklesia.bi.connectors import sync_connector

    with json_stdout(as_json) as emit, one_line_errors():
        report = sync_connector(name, since=since, full=full, base_url=base_url, objects=objects)
        if as_json:
            emit(report.model_dump_json())
    if not as_json:
        for done in report.objects:
            console.print(
                f"{report.connector} {done.object}: {done.records} records in {done.table} "
                f"({done.pages} pages)"
            )
        console.print(
            f"{report.connector}: {report.records} records in {', '.join(report.tables) or '—'} "
            f"({report.pages} pages, {report.seconds:.1f} s) → {escape(report.database)}"
        )
        for error in report.errors:
            console.print(f"[red]error:[/] {escape(error)}")
        if report.rate_limited:
            console.print(f"[yellow]rate limited:[/] {escape(report.limit or '')}")
    if report.errors:
        raise typer.Exit(1)
    if report.rate_limited:
        raise typer.Exit(75)  # EX_TEMPFAIL: try again later


def register(app: typer.Typer) -> None:
    app.add_typer(connect_app, name="connect")
