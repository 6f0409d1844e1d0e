"""Memory for agents: four tiers behind one protocol, a router, writer actors and embedders.

::

    hot (L1)      in-process LRU with a time to live            HotStore
    vectors (L2)  LanceDB, under the data directory or a URI    LanceStore
    records (L3)  SQLite: facts, key-value entries, summaries   SqliteStore
    archive (L4)  Parquet part files, still searchable          ParquetStore

Every tier is a :class:`MemoryStore`. Durable tiers are written only by their writer actor
(:class:`ActorTier`); the :class:`Router` applies a :class:`MemoryPolicy`; :class:`Memory` is what a
swarm is given, and hands each agent step a :class:`MemoryHandle` (``ctx.memory``).
"""

from ekklesia.memory.archive import ArchiveTierConfig, ParquetStore
from ekklesia.memory.embedder import CachedEmbedder, Embedder
from ekklesia.memory.embedder_pool import PooledEmbedder
from ekklesia.memory.embedder_spec import EmbedderSpec, MiniLMSpec, OpenAIEmbeddingsSpec
from ekklesia.memory.entry import Hit, MemoryEntry, Tier
from ekklesia.memory.errors import (
    EmptyMemoryText,
    MemoryConfigError,
    MemoryPathError,
    MemoryUnavailable,
)
from ekklesia.memory.hot import HotStore
from ekklesia.memory.minilm import MiniLMEmbedder
from ekklesia.memory.openai_embedder import OpenAIEmbedder
from ekklesia.memory.policy import DemotionPolicy, HotPolicy, MemoryPolicy, ReadPolicy, WritePolicy
from ekklesia.memory.query import Filter, Query, SearchMode
from ekklesia.memory.records import RecordTierConfig, SqliteStore
from ekklesia.memory.remote import ActorTier
from ekklesia.memory.router import Router
from ekklesia.memory.scope import Scope, ScopeKind
from ekklesia.memory.store import MemoryStore
from ekklesia.memory.system import Memory, MemoryConfig, MemoryHandle
from ekklesia.memory.vectors import LanceStore, VectorTierConfig

__all__ = [
    "ActorTier",
    "ArchiveTierConfig",
    "CachedEmbedder",
    "DemotionPolicy",
    "Embedder",
    "EmbedderSpec",
    "EmptyMemoryText",
    "Filter",
    "Hit",
    "HotPolicy",
    "HotStore",
    "LanceStore",
    "Memory",
    "MemoryConfig",
    "MemoryConfigError",
    "MemoryEntry",
    "MemoryHandle",
    "MemoryPathError",
    "MemoryPolicy",
    "MemoryStore",
    "MemoryUnavailable",
    "MiniLMEmbedder",
    "MiniLMSpec",
    "OpenAIEmbedder",
    "OpenAIEmbeddingsSpec",
    "ParquetStore",
    "PooledEmbedder",
    "Query",
    "ReadPolicy",
    "RecordTierConfig",
    "Router",
    "Scope",
    "ScopeKind",
    "SearchMode",
    "SqliteStore",
    "Tier",
    "VectorTierConfig",
    "WritePolicy",
]
