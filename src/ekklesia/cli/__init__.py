"""The ``ekklesia`` command. Each sub-module adds its commands with ``register(app)``."""

from __future__ import annotations

import importlib

import typer

from ekklesia.runtime.session import session

__all__ = ["app", "main"]

app = typer.Typer(
    name="ekklesia",
    help="Run swarms of agents as reproducible simulations on Ray.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _one_session(ctx: typer.Context) -> None:
    """Each invocation is one session: the runs it starts are recorded under one id."""
    ctx.with_resource(session(command=f"ekklesia {ctx.invoked_subcommand or ''}".strip()))


_COMMAND_MODULES = (
    "run",
    "spec",
    "pattern",
    "timeline",
    "models",
    "costs",
    "memory",
    "simulate",
    "learn",
    "research",
    "bi",
    "connect",
    "serve",
    "keys",
)

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"ekklesia.cli.{_name}")
    except ModuleNotFoundError as _exc:
        if _exc.name != f"ekklesia.cli.{_name}":
            raise
        continue
    _module.register(app)


def main() -> None:
    app()
