"""``ekklesia keys create|list|revoke|rotate`` and ``ekklesia audit``: who may use the HTTP API."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ekklesia.cli._common import console, fail, one_line_errors
from ekklesia.serve.audit import AuditLog
from ekklesia.serve.keys import ROLES, ApiKey, KeyStore, Role

__all__ = ["register"]

keys_app = typer.Typer(
    help="API keys of the HTTP server: create, list, revoke, rotate.", no_args_is_help=True
)


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "—"
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M")


@keys_app.command("create")
def create(
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    name: Annotated[str | None, typer.Option(help="A name for lists and the audit log.")] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tokens_per_hour: Annotated[int | None, typer.Option(help="Tokens per hour.")] = None,
    usd_per_day: Annotated[float | None, typer.Option(help="USD per day.")] = None,
    expires_in: Annotated[
        float | None, typer.Option(help="Days until the key expires (default never).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, key, role} as JSON.")] = False,
) -> None:
    """Make a key. Its secret is printed now and never again (only its hash is kept)."""
    with one_line_errors():
        if role not in ROLES:
            fail(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
        for flag, value in (("--rpm", rpm), ("--tokens-per-hour", tokens_per_hour)):
            if value is not None and value < 1:
                fail(f"{flag} must be >= 1, got {value}")
        if usd_per_day is not None and not usd_per_day > 0:
            fail(f"--usd-per-day must be > 0, got {usd_per_day}")
        if expires_in is not None and not expires_in > 0:
            fail(f"--expires-in must be > 0 days, got {expires_in}")
        chosen: Role = role  # narrowed by the check above
        made = KeyStore().create(
            chosen,
            name=name,
            rpm=rpm,
            tokens_per_hour=tokens_per_hour,
            usd_per_day=usd_per_day,
            expires_in_s=None if expires_in is None else expires_in * 86400,
        )
    if as_json:
        typer.echo(made.model_dump_json())
        return
    console.print(f"key [bold]{made.id}[/] ({made.role}): {made.key}")
    console.print("[dim]the secret is shown this once: keep it (only its hash is stored)[/]")


def _state(key: ApiKey, now: float) -> str:
    if key.revoked is not None:
        return "revoked"
    if key.expires is not None and now >= key.expires:
        return "expired"
    return "active"


@keys_app.command("list")
def list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="Print the keys as JSON.")] = False,
) -> None:
    """Every key: id, name, role, limits, state (never a secret)."""
    with one_line_errors():
        keys = KeyStore().all()
    now = time.time()
    if as_json:
        typer.echo(json.dumps([{**k.public(), "state": _state(k, now)} for k in keys]))
        return
    if not keys:
        console.print("no keys yet: ekklesia keys create --role owner")
        return
    table = Table(title="API keys")
    for column in ("id", "name", "role", "state", "limits", "expires"):
        table.add_column(column)
    for k in keys:
        limits = ", ".join(
            f"{label} {value}"
            for label, value in (
                ("rpm", k.rpm),
                ("tok/h", k.tokens_per_hour),
                ("$/day", k.usd_per_day),
            )
            if value is not None
        )
        table.add_row(k.id, escape(k.name), k.role, _state(k, now), limits or "—", _when(k.expires))
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key: the server refuses it from its next request on."""
    with one_line_errors():
        KeyStore().revoke(key_id)
    console.print(f"revoked {key_id}")


@keys_app.command("rotate")
def rotate(
    key_id: Annotated[str, typer.Argument(help="The key's id.")],
    grace: Annotated[
        float, typer.Option(help="Seconds the old secret stays valid (default 0).")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print {id, key, role} as JSON.")] = False,
) -> None:
    """A new secret for a key (same id, role and limits)."""
    with one_line_errors():
        made = KeyStore().rotate(key_id, grace_s=grace)
    if as_json:
        typer.echo(made.model_dump_json())
        return
    console.print(f"key [bold]{made.id}[/] ({made.role}): {made.key}")


def audit(
    limit: Annotated[int, typer.Option(help="The last N records.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """The audit log of the HTTP server: every state-changing request, who, what, when, outcome."""
    with one_line_errors():
        if limit < 1:
            fail(f"--limit must be >= 1, got {limit}")
        records = AuditLog().read(limit)
    if as_json:
        for record in records:
            typer.echo(record.model_dump_json())
        return
    if not records:
        console.print("no audited requests yet")
        return
    table = Table(title="audit log (oldest first)")
    for column in ("when", "key", "method", "route", "status", "outcome"):
        table.add_column(column)
    for r in records:
        who = f"{r.key_id} ({r.key_name})" if r.key_id else "—"
        table.add_row(
            _when(r.when), escape(who), r.method, escape(r.route), str(r.status), r.outcome
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.command("audit")(audit)
