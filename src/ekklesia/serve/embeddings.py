"""The embeddings deployment: all-MiniLM-L6-v2, with requests batched across clients.

:meth:`EmbeddingsService.embed` goes through ``@serve.batch``: requests that arrive together (from
any number of clients) are encoded in one model call and split back, each with its own token count.
:meth:`EmbeddingsService.embed_unbatched` encodes one request alone (for comparison in the
benchmarks). The model runs on the GPU when the replica has one.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from ray import serve

from ekklesia.memory.embedder import Vectors
from ekklesia.memory.minilm import MINILM_DIM, MiniLMEmbedder

__all__ = ["MODEL_NAME", "EmbeddingsService"]

MODEL_NAME = MiniLMEmbedder.name


class EmbeddingsService:
    """A Ray Serve deployment (see :mod:`ekklesia.serve.application`)."""

    model = MODEL_NAME
    dim = MINILM_DIM

    def __init__(self, max_batch_size: int = 64, batch_wait_timeout_s: float = 0.005) -> None:
        self.embedder = MiniLMEmbedder()
        batched: Any = self.embed  # @serve.batch adds the setters
        batched.set_max_batch_size(max_batch_size)
        batched.set_batch_wait_timeout_s(batch_wait_timeout_s)
        self.embedder.encode(["warm up"])  # the replica is ready once the model is loaded
        self.batches = 0
        self.texts = 0

    def _encode(self, texts: list[str]) -> tuple[Vectors, list[int]]:
        return self.embedder.encode(texts), self.embedder.count_tokens(texts)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def embed(self, requests: list[list[str]]) -> list[tuple[Vectors, int]]:
        flat = [text for texts in requests for text in texts]
        vectors, tokens = await asyncio.to_thread(self._encode, flat)
        self.batches += 1
        self.texts += len(flat)
        out = []
        start = 0
        for texts in requests:
            end = start + len(texts)
            out.append((vectors[start:end], sum(tokens[start:end])))
            start = end
        return out

    async def embed_unbatched(self, texts: list[str]) -> tuple[Vectors, int]:
        vectors, tokens = await asyncio.to_thread(self._encode, texts)
        return vectors, sum(tokens)

    async def ping(self) -> dict[str, Any]:
        vectors, _ = await self.embed_unbatched(["ping"])
        return {
            "model": self.model,
            "dim": int(vectors.shape[1]),
            "finite": bool(np.isfinite(vectors).all()),
            "batches": self.batches,
            "texts": self.texts,
        }
