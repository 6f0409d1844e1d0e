"""OpenAI-compatible embeddings, tested with the official ``openai`` client, unchanged."""

from __future__ import annotations

import asyncio

import numpy as np
import openai
import pytest

from conftest import Server
from ekklesia.memory.minilm import MiniLMEmbedder


def test_the_openai_client_embeds_through_the_server(server: Server) -> None:
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.key("member"))
    texts = ["the cat sat on the mat", "a kitten rested on a rug", "quarterly revenue rose"]
    answer = client.embeddings.create(model="all-MiniLM-L6-v2", input=texts)
    assert answer.model == "all-MiniLM-L6-v2" and len(answer.data) == 3
    assert [d.index for d in answer.data] == [0, 1, 2]
    vectors = np.array([d.embedding for d in answer.data], dtype=np.float32)
    assert vectors.shape == (3, 384)
    # the same vectors as the library's own embedder
    expected = MiniLMEmbedder().encode(texts)
    assert np.allclose(vectors, expected, atol=1e-4)
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > len(texts)
    # the client asks for base64 unless told otherwise; a float request gives the same numbers
    floats = client.embeddings.create(
        model="all-MiniLM-L6-v2", input=texts[0], encoding_format="float"
    )
    assert np.allclose(floats.data[0].embedding, vectors[0], atol=1e-6)

    models = client.models.list()
    assert [m.id for m in models.data] == ["all-MiniLM-L6-v2"]

    with pytest.raises(openai.UnprocessableEntityError, match="dimensions"):
        client.embeddings.create(model="all-MiniLM-L6-v2", input="x", dimensions=128)
    same = client.embeddings.create(model="all-MiniLM-L6-v2", input="x", dimensions=384)
    assert len(same.data[0].embedding) == 384
    with pytest.raises(openai.UnprocessableEntityError, match="model"):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    with pytest.raises(openai.UnprocessableEntityError, match="input"):
        client.embeddings.create(model="all-MiniLM-L6-v2", input=["fine", "  "])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="ek_x_y").models.list()


def test_concurrent_clients_are_batched_together(server: Server) -> None:
    from ray import serve

    key = server.key("member")
    embeddings = serve.get_deployment_handle("embeddings", app_name="ekklesia")
    before = embeddings.ping.remote().result()

    async def many() -> list[list[float]]:
        client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key)
        answers = await asyncio.gather(
            *(
                client.embeddings.create(model="all-MiniLM-L6-v2", input=f"text {i}")
                for i in range(16)
            )
        )
        return [a.data[0].embedding for a in answers]

    vectors = asyncio.run(many())
    after = embeddings.ping.remote().result()
    assert after["texts"] - before["texts"] == 16
    assert after["batches"] - before["batches"] < 16  # some requests shared a model call
    expected = MiniLMEmbedder().encode([f"text {i}" for i in range(16)])
    assert np.allclose(np.array(vectors), expected, atol=1e-4)  # each got its own, in order
