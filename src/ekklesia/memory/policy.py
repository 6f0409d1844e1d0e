"""The memory policy: where writes go, how reads fan out, and when entries move between tiers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ekklesia.memory.entry import EntryKind, Tier
from ekklesia.memory.scope import SCOPE_KINDS, ScopeKind

__all__ = [
    "DemotionPolicy",
    "DurableTier",
    "HotPolicy",
    "MemoryPolicy",
    "ReadPolicy",
    "WritePolicy",
]

DurableTier = Literal["vectors", "records", "archive"]


_ROUTES: dict[EntryKind, DurableTier] = {
    "note": "vectors",
    "chunk": "vectors",
    "fact": "records",
    "kv": "records",
    "summary": "records",
}


class WritePolicy(BaseModel):
    """Each kind of entry goes to one durable tier, and through the hot tier when ``hot``."""

    model_config = ConfigDict(frozen=True)

    routes: dict[EntryKind, DurableTier] = Field(default_factory=lambda: dict(_ROUTES))
    hot: bool = True
    #: The scope of ``remember`` when the agent names none.
    default_scope: ScopeKind = "run"

    @model_validator(mode="after")
    def _every_kind_routed(self) -> WritePolicy:
        missing = {"note", "fact", "kv", "summary", "chunk"} - set(self.routes)
        if missing:
            raise ValueError(f"write routes miss the entry kinds {sorted(missing)}")
        return self


class ReadPolicy(BaseModel):
    """How a search fans out over the tiers.

    ``all`` asks every tier in ``tiers`` and merges (each id once, best score first); the durable
    tiers have the last word, so what an agent recalls does not depend on what happens to be
    cached, and an entry forgotten in another process is not recalled from this one's hot tier.
    ``cascade`` asks them in order and stops at the first tier after which ``k`` hits score at
    least ``min_score``: fewer tiers touched, at the price of results that depend on the cache
    (a hot tier may serve an entry forgotten elsewhere until its ``ttl_s`` runs out).
    """

    model_config = ConfigDict(frozen=True)

    tiers: tuple[Tier, ...] = ("hot", "vectors", "records", "archive")
    fanout: Literal["all", "cascade"] = "all"
    min_score: float = 0.0
    #: Hits found in a colder tier are put in the hot tier; archive hits go back to their tier.
    promote: bool = True
    #: The scopes an agent's ``recall`` searches when it names none.
    scopes: tuple[ScopeKind, ...] = SCOPE_KINDS


class DemotionPolicy(BaseModel):
    """Entries untouched (not written, not promoted) for ``after_s`` seconds go to the archive.

    Each process that writes checks for such entries at most every ``check_every_s`` seconds,
    on a write; ``None`` leaves demotion to explicit calls of ``Memory.demote``.
    """

    model_config = ConfigDict(frozen=True)

    after_s: float | None = Field(default=30 * 24 * 3600.0, gt=0)
    tiers: tuple[Literal["vectors", "records"], ...] = ("vectors",)
    batch: int = Field(default=10_000, ge=1)
    check_every_s: float | None = Field(default=3600.0, ge=0)


class HotPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    capacity: int = Field(default=10_000, ge=1)
    ttl_s: float = Field(default=120.0, gt=0)


class MemoryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    write: WritePolicy = Field(default_factory=WritePolicy)
    read: ReadPolicy = Field(default_factory=ReadPolicy)
    demotion: DemotionPolicy = Field(default_factory=DemotionPolicy)
    hot: HotPolicy = Field(default_factory=HotPolicy)
