"""``RunSpec``: the typed description of a run — what a spec file, an HTTP request and the pattern
learner all say, validated by one pydantic model with a JSON Schema.

The field names are a contract (scripts outside this repository write them)::

    version: 1                 # the spec format; older files keep loading
    pattern: debate            # a library name, or "package.module:pattern"
    agents: 3                  # a count (each takes `model`, `role` and `tools`) or a list of
                               #   {name, role, model, tools, max_tokens, temperature, class};
                               #   none: the pattern's own team, else 3
    model: sim                 # the model spec of agents given by count
    graph: complete            # a topology name, or an edge list [[u, v], ...] (v hears u)
    rounds: 2
    aggregate: majority        # majority | confidence | judge | last (none: the pattern's)
    stop_on_consensus: true
    budget: {max_usd: 1.0, max_tokens: 100000}
    seed: 0
    memory: null               # a memory name (under $EKKLESIA_HOME/memory/<name>)
    options: {}                # the pattern's own options, validated by the pattern

A wrong field or value is a :class:`~ekklesia.errors.SpecError` whose one line names the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from ekklesia.errors import EkklesiaError, SpecError
from ekklesia.patterns.agent_spec import AgentSpec
from ekklesia.patterns.aggregation import AGGREGATIONS
from ekklesia.patterns.library import get_pattern
from ekklesia.runtime.ledger import Budget

__all__ = ["SPEC_VERSION", "AgentSpec", "RunSpec", "load_spec_file", "one_line"]

#: The spec format this ekklesia writes; files of older versions still load.
SPEC_VERSION = 1


class RunSpec(BaseModel):
    """A run, as data; see the module docstring for the fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(default=SPEC_VERSION, ge=1)
    name: str = Field(default="swarm", min_length=1)
    pattern: str = "debate"
    agents: int | list[AgentSpec] | None = None
    model: str = "sim"
    role: str | None = None
    tools: list[str] = Field(default_factory=list)
    graph: str | list[tuple[str, str]] = "complete"
    rounds: int = Field(default=2, ge=1)
    aggregate: str | None = None
    stop_on_consensus: bool = True
    budget: Budget = Field(default_factory=Budget)
    seed: int = 0
    memory: str | None = None
    options: dict[str, JsonValue] = Field(default_factory=dict)
    placement: str | int = "auto"
    max_restarts: int = Field(default=3, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _older_forms(cls, data: Any) -> Any:
        """Timelines recorded before the spec had a version kept the graph as {topology, edges}."""
        if isinstance(data, Mapping) and isinstance(data.get("graph"), Mapping):
            graph = data["graph"]
            data = dict(data)
            topology = graph.get("topology", "custom")
            data["graph"] = graph.get("edges", []) if topology == "custom" else topology
        return data

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > SPEC_VERSION:
            raise ValueError(
                f"spec version {value} is newer than this ekklesia reads ({SPEC_VERSION}): "
                "upgrade ekklesia"
            )
        return value

    @field_validator("agents")
    @classmethod
    def _some_agents(cls, value: int | list[AgentSpec] | None) -> int | list[AgentSpec] | None:
        if isinstance(value, int) and value < 1:
            raise ValueError("a count of agents must be >= 1")
        if isinstance(value, list):
            if not value:
                raise ValueError("the list of agents is empty")
            names = [a.name for a in value]
            if repeated := sorted({n for n in names if names.count(n) > 1}):
                raise ValueError(f"agent names must be unique; repeated: {', '.join(repeated)}")
        return value

    @field_validator("aggregate")
    @classmethod
    def _known_aggregation(cls, value: str | None) -> str | None:
        if value is not None and value not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {value!r} (known: {', '.join(AGGREGATIONS)})")
        return value

    @model_validator(mode="after")
    def _pattern_and_options(self) -> RunSpec:
        try:
            get_pattern(self.pattern).parse_options(self.options)
        except EkklesiaError as exc:
            raise ValueError(str(exc)) from None
        return self

    # -- reading and writing -------------------------------------------------------------------

    @classmethod
    def of(cls, spec: RunSpec | Mapping[str, Any] | str | Path, *, source: str = "spec") -> RunSpec:
        """A validated spec from a spec, a mapping, or a YAML/JSON file path."""
        if isinstance(spec, RunSpec):
            return spec
        if isinstance(spec, str | Path):
            return load_spec_file(Path(spec))
        try:
            return cls.model_validate(dict(spec))
        except ValidationError as exc:
            raise SpecError(f"{source}: {one_line(exc)}") from None

    def merged(self, *, source: str = "spec", **overrides: Any) -> RunSpec:
        """This spec with some fields replaced (``None`` values are left as they are), validated."""
        data = self.model_dump(mode="json", by_alias=True)
        data.update({k: v for k, v in overrides.items() if v is not None})
        return RunSpec.of(data, source=source)

    def to_data(self) -> dict[str, Any]:
        """Plain data, as a timeline records it and a file holds it."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)


def load_spec_file(path: Path) -> RunSpec:
    """Read a YAML or JSON spec file; every problem is one line naming the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SpecError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {first}"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SpecError(f"{path}: a spec is a mapping of fields, not {type(data).__name__}")
    return RunSpec.of(data, source=str(path))


_TYPE_TAGS = frozenset({"int", "str", "float", "bool", "list", "dict", "tuple", "none"})


def _where(loc: tuple[int | str, ...]) -> str:
    """A field's path without the tags pydantic adds for the members of a union."""
    parts = [
        str(p)
        for p in loc
        if not (
            str(p).startswith("function-")
            or "[" in str(p)
            or str(p).lower() in _TYPE_TAGS
            or str(p)[:1].isupper()  # a model's name: a member of a union of models
        )
    ]
    return ".".join(parts)


def one_line(exc: ValidationError) -> str:
    """The first problem of a validation error, as ``field: what is wrong``."""
    problems: dict[str, str] = {}
    for error in exc.errors():
        where = _where(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.setdefault(where, f"{where}: {message}" if where else message)
    listed = list(problems.values())
    extra = f" (and {len(listed) - 1} more)" if len(listed) > 1 else ""
    return (listed[0] if listed else str(exc)) + extra
