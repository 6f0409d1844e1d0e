"""Embedder specifications: picklable data that builds the same embedder in any process."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.memory.embedder import Embedder
from ekklesia.memory.minilm import MINILM_DIM, MiniLMEmbedder
from ekklesia.memory.openai_embedder import OpenAIEmbedder

__all__ = ["EmbedderSpec", "MiniLMSpec", "OpenAIEmbeddingsSpec", "build_embedder"]


class MiniLMSpec(BaseModel):
    """The bundled all-MiniLM-L6-v2; ``device`` ``None`` uses the GPU when torch sees one."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["minilm"] = "minilm"
    device: str | None = None
    #: Small batches pad less; on CPU, 32 chunks of code embed faster than 64.
    batch_size: int = Field(default=32, ge=1)

    @property
    def dim(self) -> int:
        return MINILM_DIM


class OpenAIEmbeddingsSpec(BaseModel):
    """An OpenAI-compatible ``/v1/embeddings`` server."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["openai"] = "openai"
    base_url: str
    model: str
    dim: int = Field(ge=1)
    api_key_env: str | None = "OPENAI_API_KEY"
    batch_size: int = Field(default=128, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)


EmbedderSpec = Annotated[MiniLMSpec | OpenAIEmbeddingsSpec, Field(discriminator="kind")]


def build_embedder(spec: MiniLMSpec | OpenAIEmbeddingsSpec, threads: int | None = None) -> Embedder:
    if isinstance(spec, MiniLMSpec):
        return MiniLMEmbedder(device=spec.device, batch_size=spec.batch_size, threads=threads)
    return OpenAIEmbedder(
        base_url=spec.base_url,
        model=spec.model,
        dim=spec.dim,
        api_key_env=spec.api_key_env,
        batch_size=spec.batch_size,
        timeout_s=spec.timeout_s,
    )
