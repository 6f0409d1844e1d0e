"""Prices of models in USD per million tokens, from a versioned table shipped in the package.

A user file (same JSON shape) given by path or by ``EKKLESIA_PRICES`` overrides or adds entries.
Lookup accepts ``provider/model``, a bare ``model`` name, and Portkey catalog strings
(``@provider/model``).
"""

from __future__ import annotations

import json
import os
import re
import threading
import warnings
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ekklesia.errors import UserError

__all__ = ["ModelPrice", "PriceTable", "UnpricedModelWarning", "default_prices", "warn_unpriced"]

# Providers report dated snapshots ("gpt-4o-mini-2024-07-18", "claude-3-5-haiku-20241022").
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8})$")


class ModelPrice(BaseModel):
    """USD per 1M tokens."""

    model_config = ConfigDict(frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)

    def cost(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> float:
        cached = min(cached_input_tokens, input_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        usd = (input_tokens - cached) * self.input + cached * cached_rate
        usd += output_tokens * self.output
        return usd / 1_000_000


class _PriceFile(BaseModel):
    version: str
    models: dict[str, ModelPrice]


class PriceTable:
    """A lookup of model prices; unknown models return ``None``, never a price of zero."""

    def __init__(self, prices: dict[str, ModelPrice], version: str) -> None:
        self.version = version
        self._prices = {name.lower(): price for name, price in prices.items()}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> PriceTable:
        try:
            parsed = _PriceFile.model_validate_json(Path(path).read_text())
        except FileNotFoundError as exc:
            raise UserError(f"price file not found: {path}") from exc
        except (ValidationError, json.JSONDecodeError) as exc:
            raise UserError(f"price file {path} is not a valid price table: {exc}") from exc
        return cls(parsed.models, parsed.version)

    def merged(self, other: PriceTable) -> PriceTable:
        """A table with ``other``'s entries over this one's."""
        prices = dict(self._prices)
        prices.update(other._prices)
        return PriceTable(prices, f"{self.version}+{other.version}")

    def lookup(self, model: str) -> ModelPrice | None:
        key = model.lower().lstrip("@")
        if key in self._prices:
            return self._prices[key]
        bare = key.rsplit("/", 1)[-1]
        for name, price in self._prices.items():
            if name.rsplit("/", 1)[-1] == bare:
                return price
        undated = _SNAPSHOT.sub("", key)
        if undated != key:
            return self.lookup(undated)
        return None

    def cost(
        self, model: str, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0
    ) -> float | None:
        price = self.lookup(model)
        if price is None:
            return None
        return price.cost(input_tokens, output_tokens, cached_input_tokens)

    def items(self) -> list[tuple[str, ModelPrice]]:
        return sorted(self._prices.items())


class UnpricedModelWarning(UserWarning):
    """A model has no price in the table: its calls are recorded with an unknown cost."""


_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_unpriced(model: str) -> None:
    """Warn, once per model and process, that ``model``'s calls cost an unknown amount."""
    with _warned_lock:
        if model in _warned:
            return
        _warned.add(model)
    warnings.warn(
        UnpricedModelWarning(
            f"no price known for model {model!r}: its calls are recorded with cost unknown "
            "(not zero); add it to a price file named by $EKKLESIA_PRICES, or price it as a "
            "known model"
        ),
        stacklevel=3,
    )


_default: PriceTable | None = None


def default_prices() -> PriceTable:
    """The package's table, with ``EKKLESIA_PRICES`` (a path) laid over it when set."""
    global _default
    if _default is None:
        text = resources.files("ekklesia.agents").joinpath("prices.json").read_text()
        parsed = _PriceFile.model_validate_json(text)
        table = PriceTable(parsed.models, parsed.version)
        override = os.environ.get("EKKLESIA_PRICES")
        if override:
            table = table.merged(PriceTable.from_file(override))
        _default = table
    return _default
