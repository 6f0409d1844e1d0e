"""``ekklesia models``: the models ekklesia knows prices for, and how the connectors are set up.

With model specs as arguments it checks each one (a bad spec is one line and exit 2) and shows the
model it builds and its price. Key names are shown with whether they are set — never their values.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer
from rich.table import Table

from ekklesia.agents.pricing import default_prices
from ekklesia.agents.spec import model_from_spec
from ekklesia.cli._common import console, one_line_errors
from ekklesia.connectors.secrets import SECRETS_FILE_ENV, secret

__all__ = ["register"]

#: The keys the connectors read by default, shown as set or not.
KEY_NAMES = ("PORTKEY_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY")
_MILLION = 1_000_000


def _rate(value: float | None) -> str:
    return "—" if value is None else f"${value:,.4f}"


def _setup() -> dict[str, Any]:
    from ekklesia.connectors.portkey import BASE_URL_ENV, CONFIG_ENV, HOSTED_BASE_URL

    return {
        "portkey_base_url": os.environ.get(BASE_URL_ENV) or HOSTED_BASE_URL,
        "portkey_config": os.environ.get(CONFIG_ENV),
        "secrets_file": os.environ.get(SECRETS_FILE_ENV),
        "keys": {name: secret(name) is not None for name in KEY_NAMES},
        "prices_file": os.environ.get("EKKLESIA_PRICES"),
    }


def _checked(specs: list[str]) -> list[dict[str, Any]]:
    checked = []
    for spec in specs:
        model = model_from_spec(spec)
        per_million = model.max_cost_usd(_MILLION, 0), model.max_cost_usd(0, _MILLION)
        checked.append(
            {
                "spec": spec,
                "class": type(model).__name__,
                "name": model.name,
                "input_per_1m": per_million[0],
                "output_per_1m": per_million[1],
            }
        )
    return checked


def models(
    specs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Model specs to check, e.g. portkey:@openai/gpt-4o-mini.", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The known models with their prices (USD per 1M tokens) and the connector set-up."""
    with one_line_errors():
        table = default_prices()
        checked = _checked(specs or [])
        setup = _setup()
    rows: list[dict[str, Any]] = [
        {
            "model": name,
            "input_per_1m": price.input,
            "output_per_1m": price.output,
            "cached_input_per_1m": price.cached_input,
        }
        for name, price in table.items()
    ]
    if as_json:
        payload = {"prices_version": table.version, "models": rows, "checked": checked, **setup}
        typer.echo(json.dumps(payload))
        return
    prices = Table(title=f"model prices, USD per 1M tokens (table {table.version})")
    for column in ("model", "input", "output", "cached input"):
        prices.add_column(column, justify="left" if column == "model" else "right")
    for row in rows:
        prices.add_row(
            row["model"],
            _rate(row["input_per_1m"]),
            _rate(row["output_per_1m"]),
            _rate(row["cached_input_per_1m"]),
        )
    console.print(prices)
    if checked:
        specs_table = Table(title="model specs")
        for column in ("spec", "model", "input", "output"):
            specs_table.add_column(
                column, justify="right" if column in ("input", "output") else "left"
            )
        for item in checked:
            specs_table.add_row(
                item["spec"],
                f"{item['class']} {item['name']}",
                _rate(item["input_per_1m"]) if item["input_per_1m"] is not None else "unpriced",
                _rate(item["output_per_1m"]) if item["output_per_1m"] is not None else "unpriced",
            )
        console.print(specs_table)
    keys = ", ".join(f"{k} {'set' if v else 'not set'}" for k, v in setup["keys"].items())
    console.print(f"portkey gateway  {setup['portkey_base_url']}")
    if setup["portkey_config"]:
        console.print(f"portkey config   {setup['portkey_config']}")
    if setup["prices_file"]:
        console.print(f"price overrides  {setup['prices_file']}")
    console.print(f"secrets file     {setup['secrets_file'] or '— (keys from the environment)'}")
    console.print(f"keys             {keys}")


def register(app: typer.Typer) -> None:
    app.command("models")(models)
