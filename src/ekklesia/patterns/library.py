"""The pattern library: patterns by name, the built-ins and the user's.

``library["debate"]`` is a :class:`~ekklesia.patterns.pattern.Pattern`; :func:`register_pattern`
adds one (it then shows in ``ekklesia pattern list`` and runs by name from a spec); a spec may also
name a pattern by import path, ``"package.module:my_pattern"``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from ekklesia.core.imports import load
from ekklesia.errors import SpecError
from ekklesia.patterns.debate import debate
from ekklesia.patterns.pattern import Pattern

__all__ = ["PROVIDERS", "PatternLibrary", "get_pattern", "library", "register_pattern"]


#: Modules that register patterns of their own, imported when the library is first read (the
#: teams sit above this layer: naming them here by path keeps the import graph one-way).
PROVIDERS: list[str] = [
    "ekklesia.code.patterns",
    "ekklesia.bi.patterns",
    "ekklesia.research.patterns",
]


class PatternLibrary(Mapping[str, Pattern]):
    """A read-only mapping of names to patterns; :meth:`register` adds to it."""

    def __init__(self) -> None:
        self._patterns: dict[str, Pattern] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in PROVIDERS:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:  # a team that is not installed offers nothing
                if exc.name is None or not module.startswith(exc.name):
                    raise

    def __getitem__(self, name: str) -> Pattern:
        self._load()
        try:
            return self._patterns[name]
        except KeyError:
            known = ", ".join(sorted(self._patterns))
            raise SpecError(f"unknown pattern {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._patterns

    def get(self, name: str, default: Pattern | None = None) -> Pattern | None:  # type: ignore[override]
        self._load()
        return self._patterns.get(name, default)

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(sorted(self._patterns))

    def __len__(self) -> int:
        self._load()
        return len(self._patterns)

    def register(self, pattern: Pattern) -> Pattern:
        if not isinstance(pattern, Pattern):
            raise SpecError(f"only an ek.Pattern can be registered, got {pattern!r}")
        self._patterns[pattern.name] = pattern
        return pattern


library = PatternLibrary()
library.register(debate)


def register_pattern(pattern: Pattern) -> Pattern:
    """Make ``pattern`` known by its name; replaces a pattern of the same name."""
    return library.register(pattern)


def get_pattern(name: str | Pattern) -> Pattern:
    """The pattern a name or an import path names; a pattern passes through."""
    if isinstance(name, Pattern):
        return name
    if name in library or ":" not in name:
        return library[name]
    found = load(name, what="pattern")
    if not isinstance(found, Pattern):
        raise SpecError(f"{name!r} is not an ek.Pattern")
    return found
