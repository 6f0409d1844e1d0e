"""Tier configurations: plain, picklable data naming where each durable tier lives.

A configuration travels to whichever process needs the tier and is opened there — a writer actor
opens it to write, any other process to read — so no connection ever crosses Ray.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from ekklesia.memory.archive import ArchiveTierConfig, ParquetStore
from ekklesia.memory.records import RecordTierConfig, SqliteStore
from ekklesia.memory.vectors import LanceStore, VectorTierConfig

__all__ = ["DurableStore", "TierConfig", "default_tiers"]

TierConfig = Annotated[
    VectorTierConfig | RecordTierConfig | ArchiveTierConfig, Field(discriminator="tier")
]
DurableStore = LanceStore | SqliteStore | ParquetStore


def default_tiers(
    root: str, dim: int, vectors_uri: str | None = None, archive_uri: str | None = None
) -> tuple[VectorTierConfig, RecordTierConfig, ArchiveTierConfig]:
    """The three durable tiers of one memory under ``root``; either bulk tier may live elsewhere."""
    base = Path(root)
    return (
        VectorTierConfig(uri=vectors_uri or str(base / "vectors"), dim=dim),
        RecordTierConfig(path=str(base / "records.sqlite"), dim=dim),
        ArchiveTierConfig(uri=archive_uri or str(base / "archive"), dim=dim),
    )
