"""Scopes: who can see a memory entry.

A scope is a kind and a key, written ``kind:key`` (``global`` has no key). An agent scope is
private to one agent of one swarm; a run scope to one run; a swarm scope to every run of a swarm;
a session scope to every swarm that shares a :class:`~ekklesia.memory.system.Memory` session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from ekklesia.memory.errors import MemoryConfigError

__all__ = ["SCOPE_KINDS", "Scope", "ScopeKind"]

ScopeKind = Literal["agent", "run", "swarm", "session", "global"]
SCOPE_KINDS: tuple[ScopeKind, ...] = get_args(ScopeKind)


@dataclass(frozen=True, order=True)
class Scope:
    """A validated ``kind:key`` address of a set of memories."""

    kind: ScopeKind
    key: str = ""

    def __post_init__(self) -> None:
        if self.kind not in SCOPE_KINDS:
            raise MemoryConfigError(
                f"unknown scope kind {self.kind!r} (known: {', '.join(SCOPE_KINDS)})"
            )
        if self.kind == "global" and self.key:
            raise MemoryConfigError("the global scope has no key")
        if self.kind != "global" and not self.key:
            raise MemoryConfigError(f"a {self.kind} scope needs a key, as in '{self.kind}:name'")
        if "'" in self.key or "\n" in self.key:
            raise MemoryConfigError(f"scope key {self.key!r} may not hold quotes or newlines")

    @classmethod
    def from_str(cls, text: str) -> Scope:
        kind, _, key = text.partition(":")
        return cls(kind, key)  # type: ignore[arg-type]  # checked in __post_init__

    def __str__(self) -> str:
        return self.kind if self.kind == "global" else f"{self.kind}:{self.key}"
