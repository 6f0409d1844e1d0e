"""A strategies file: the candidate strategies (named run specs) and the objective they are
judged by.

The field names are a contract (scripts and checks write such files)::

    strategies:
      - {name: cheap-debate, agents: 3, rounds: 2, model: "sim:skill=0.6"}
      - {name: one-expensive, agents: 1, rounds: 1, model: "sim:skill=0.8"}
    objective: accuracy - 200 * usd      # default: accuracy

Each entry is ``name`` plus the fields of a :class:`~ekklesia.patterns.spec.RunSpec`; the name
is the strategy's (and its runs' swarm name). A strategy's *digest* is a hash of its spec with
the seed left out: runs are keyed by digest, task and seed, so renaming a strategy or reordering
the file does not make finished runs count as new ones, and changing any field does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ekklesia.errors import SpecError
from ekklesia.learn.objective import DEFAULT_OBJECTIVE, Objective
from ekklesia.patterns.spec import RunSpec

__all__ = ["Strategies", "Strategy", "load_strategies", "spec_digest"]


def spec_digest(spec: RunSpec) -> str:
    """A short hash of a spec, its name and seed aside."""
    data = spec.to_data()
    data.pop("name", None)
    data.pop("seed", None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Strategy:
    """A named run spec."""

    name: str
    spec: RunSpec

    @property
    def digest(self) -> str:
        return spec_digest(self.spec)

    def seeded(self, seed: int) -> RunSpec:
        """The spec a run with ``seed`` uses."""
        return self.spec.merged(seed=seed, source=f"strategy {self.name}")


@dataclass(frozen=True)
class Strategies:
    """The candidates and the objective, as a strategies file gives them."""

    strategies: tuple[Strategy, ...]
    objective: Objective
    source: str = "strategies"

    @classmethod
    def of(cls, data: Mapping[str, Any], *, source: str = "strategies") -> Strategies:
        """Validated strategies from the file's mapping; every problem names ``source``."""
        if not isinstance(data, Mapping):
            raise SpecError(f"{source}: a strategies file is a mapping, not {type(data).__name__}")
        if unknown := sorted(set(data) - {"strategies", "objective"}):
            raise SpecError(
                f"{source}: unknown field {unknown[0]!r} (known: strategies, objective)"
            )
        entries = data.get("strategies")
        if not isinstance(entries, list) or not entries:
            raise SpecError(f"{source}: strategies must be a non-empty list of named run specs")
        objective = Objective.parse(str(data.get("objective", DEFAULT_OBJECTIVE)), source=source)
        found: list[Strategy] = []
        for i, entry in enumerate(entries):
            where = f"{source}: strategies[{i}]"
            if not isinstance(entry, Mapping):
                raise SpecError(f"{where} is not a mapping")
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise SpecError(f"{where}: every strategy needs a name")
            if any(s.name == name for s in found):
                raise SpecError(f"{where}: the name {name!r} is used twice")
            found.append(Strategy(name, RunSpec.of(dict(entry), source=f"{where} ({name})")))
        return cls(tuple(found), objective, source)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.strategies]

    def __getitem__(self, name: str) -> Strategy:
        for strategy in self.strategies:
            if strategy.name == name:
                return strategy
        raise SpecError(
            f"{self.source}: no strategy named {name!r} (known: {', '.join(self.names)})"
        )

    def to_data(self) -> dict[str, Any]:
        return {
            "strategies": [s.spec.to_data() for s in self.strategies],
            "objective": self.objective.expression,
        }


def load_strategies(path: str | Path | Mapping[str, Any] | Strategies) -> Strategies:
    """Read a YAML or JSON strategies file (or take its data); problems are one line."""
    if isinstance(path, Strategies):
        return path
    if isinstance(path, Mapping):
        return Strategies.of(path)
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read strategies file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise SpecError(f"{path}: not valid {kind}: {first}") from None
    return Strategies.of(data if data is not None else {}, source=str(path))
