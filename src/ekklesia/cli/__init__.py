"""The ``ekklesia`` command. Each sub-module adds its commands with ``register(app)``; one that
also has ``route(args) -> args`` rewrites the command line before it is parsed (``ekklesia learn
FILE`` is ``ekklesia learn run FILE``)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from ekklesia.runtime.session import session

__all__ = ["app", "main"]

_ROUTES: list[Callable[[list[str]], list[str]]] = []


class _Ekklesia(TyperGroup):
    """The root group: applies the sub-modules' routes to the whole command line. Rewriting
    here, where click takes the arguments, needs none of click's own types (typer ships its own
    click; its ``Context`` is not public)."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        routed = list(sys.argv[1:] if args is None else args)
        for route in _ROUTES:
            routed = route(routed)
        return super().main(
            routed, prog_name, complete_var, standalone_mode, windows_expand_args, **extra
        )


app = typer.Typer(
    cls=_Ekklesia,
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
    if callable(_route := getattr(_module, "route", None)):
        _ROUTES.append(_route)


def main() -> None:
    app()
