"""An embedder that calls an OpenAI-compatible ``/v1/embeddings`` endpoint over httpx.

Small and self-contained on purpose: batches of ``batch_size`` texts, retries with backoff on
429 and 5xx answers, vectors normalized to unit length and checked against ``dim``. The key is
read from the environment variable named by ``api_key_env`` in the process that makes the call,
so configurations can be pickled and logged without it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from ekklesia.memory.embedder import Vectors, check_texts, normalize
from ekklesia.memory.errors import MemoryConfigError, MemoryUnavailable

__all__ = ["OpenAIEmbedder"]

_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIEmbedder:
    """Embeddings from ``{base_url}/embeddings``; ``base_url`` ends in ``/v1`` as usual."""

    def __init__(
        self,
        base_url: str,
        model: str,
        dim: int,
        api_key_env: str | None = "OPENAI_API_KEY",
        batch_size: int = 128,
        timeout_s: float = 60.0,
        retries: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise MemoryConfigError(f"embedding server URL {base_url!r} must start with http(s)://")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = model
        self.dim = dim
        self.api_key_env = api_key_env
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.retries = retries
        self._transport = transport

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def embed(self, texts: Sequence[str]) -> Vectors:
        check_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        async with httpx.AsyncClient(
            timeout=self.timeout_s, headers=self._headers(), transport=self._transport
        ) as client:
            batches = [
                list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
            ]
            parts = await asyncio.gather(*(self._batch(client, b) for b in batches))
        return normalize(np.concatenate(parts))

    async def _batch(self, client: httpx.AsyncClient, texts: list[str]) -> np.ndarray[Any, Any]:
        url = f"{self.base_url}/embeddings"
        body = {"model": self.model, "input": texts}
        for attempt in range(self.retries + 1):
            try:
                response = await client.post(url, json=body)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise MemoryUnavailable(f"embedding server {url} unreachable: {exc}") from exc
            else:
                if response.status_code not in _RETRY_STATUS:
                    return self._parse(response, len(texts))
                if attempt == self.retries:
                    raise MemoryUnavailable(
                        f"embedding server {url} answered {response.status_code} "
                        f"after {attempt + 1} tries"
                    )
            await asyncio.sleep(min(0.25 * 2**attempt, 8.0))
        raise AssertionError("unreachable")

    def _parse(self, response: httpx.Response, n: int) -> np.ndarray[Any, Any]:
        if response.status_code >= 400:
            raise MemoryConfigError(
                f"embedding server refused the request ({response.status_code}): "
                f"{response.text[:200]}"
            )
        data = sorted(response.json()["data"], key=lambda item: item["index"])
        matrix = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        if matrix.shape != (n, self.dim):
            raise MemoryConfigError(
                f"embedding server returned shape {matrix.shape}, expected ({n}, {self.dim})"
            )
        return matrix
