"""Embedders: the bundled MiniLM, its content-hash cache, and an OpenAI-compatible server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ekklesia.memory import (
    CachedEmbedder,
    EmptyMemoryText,
    Memory,
    MemoryConfigError,
    MemoryUnavailable,
    OpenAIEmbedder,
    OpenAIEmbeddingsSpec,
)
from ekklesia.memory.minilm import MiniLMEmbedder


async def test_minilm_gives_unit_vectors_that_put_similar_texts_close(
    minilm: MiniLMEmbedder,
) -> None:
    vectors = await minilm.embed(["a cat on a mat", "a kitten on a rug", "quarterly tax filing"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    with pytest.raises(EmptyMemoryText):
        await minilm.embed(["fine", " "])


async def test_the_cache_embeds_each_distinct_text_once(minilm: MiniLMEmbedder) -> None:
    cached = CachedEmbedder(minilm)
    first = await cached.embed(["alpha", "beta", "alpha"])
    again = await cached.embed(["beta", "gamma"])
    assert (cached.misses, cached.hits) == (3, 2)
    np.testing.assert_array_equal(first[1], again[0])
    np.testing.assert_array_equal(first[0], first[2])


class _Server:
    """A real OpenAI-style embeddings server on a loopback port, backed by MiniLM."""

    def __init__(self, minilm: MiniLMEmbedder) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_next = 0
        app = FastAPI()

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> Any:
            body = await request.json()
            self.requests.append({"body": body, "auth": request.headers.get("authorization")})
            if self.fail_next:
                self.fail_next -= 1
                return JSONResponse({"error": {"message": "busy"}}, status_code=503)
            vectors = minilm.encode(body["input"])
            data = [
                {"object": "embedding", "index": i, "embedding": v.tolist()}
                for i, v in reversed(list(enumerate(vectors)))  # order by index, not position
            ]
            return {"object": "list", "data": data, "model": body["model"]}

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the embeddings server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(minilm: MiniLMEmbedder) -> Iterator[_Server]:
    with _Server(minilm) as running:
        yield running


async def test_remote_embedder_batches_and_matches_the_model(
    server: _Server, minilm: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EMBEDDINGS_KEY", "sk-test")
    server.requests.clear()
    remote = OpenAIEmbedder(
        server.url, "all-MiniLM-L6-v2", dim=384, api_key_env="TEST_EMBEDDINGS_KEY", batch_size=2
    )
    texts = ["one", "two", "three"]
    vectors = await remote.embed(texts)
    np.testing.assert_allclose(vectors, minilm.encode(texts), atol=1e-5)
    assert sorted(len(r["body"]["input"]) for r in server.requests) == [1, 2]
    assert {r["auth"] for r in server.requests} == {"Bearer sk-test"}


async def test_remote_embedder_retries_a_busy_server(server: _Server) -> None:
    server.fail_next = 2
    remote = OpenAIEmbedder(server.url, "m", dim=384, api_key_env=None, retries=3)
    assert (await remote.embed(["hello"])).shape == (1, 384)
    server.fail_next = 5
    stubborn = OpenAIEmbedder(server.url, "m", dim=384, api_key_env=None, retries=1)
    with pytest.raises(MemoryUnavailable, match="503"):
        await stubborn.embed(["hello"])
    server.fail_next = 0


async def test_remote_embedder_checks_what_it_gets(server: _Server) -> None:
    wrong = OpenAIEmbedder(server.url, "m", dim=768, api_key_env=None)
    with pytest.raises(MemoryConfigError, match="shape"):
        await wrong.embed(["hello"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    nobody = OpenAIEmbedder(f"http://127.0.0.1:{closed}/v1", "m", dim=384, retries=0)
    with pytest.raises(MemoryUnavailable, match="unreachable"):
        await nobody.embed(["hello"])
    with pytest.raises(MemoryConfigError):
        OpenAIEmbedder("127.0.0.1:80", "m", dim=384)


async def test_a_memory_can_embed_through_the_server(server: _Server, tmp_path: Path) -> None:
    spec = OpenAIEmbeddingsSpec(base_url=server.url, model="m", dim=384, api_key_env=None)
    memory = Memory("remote", root=tmp_path / "mem", embedder=spec, on_ray=False)
    try:
        await memory.remember("Lighthouses guide ships along the coast.")
        await memory.remember("Sourdough needs a long, slow rise.")
        hits = await memory.recall("navigation at sea", k=1, mode="vector")
        assert hits[0].text.startswith("Lighthouses")
    finally:
        memory.close()
