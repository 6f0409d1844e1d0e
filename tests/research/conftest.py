"""A small generated corpus, indexed once for the session, for the research tests.

The index is written by the real indexer; its vectors come from the scripted OpenAI-compatible
server's embeddings endpoint (tests/connectors/openai_server.py, 384 dimensions like MiniLM), so
the default run does not pay for loading MiniLM: these tests search it in ``text`` mode (BM25).
The slow tests index with MiniLM itself and search in ``hybrid`` mode.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "connectors"))
from openai_server import make_app
from search_server import Document, LocalSearchServer

from ekklesia.research.corpus import Corpus, corpus

# keys in the environment before the session's Ray starts, so its workers see them too
SEARCH_KEYS = {
    "tavily": "TAVILY_API_KEY",
    "exa": "EXA_API_KEY",
    "serper": "SERPER_API_KEY",
    "perplexity": "PERPLEXITY_API_KEY",
}
for _env in SEARCH_KEYS.values():
    os.environ.setdefault(_env, "ekkr-" + os.urandom(16).hex())


@pytest.fixture
def index_scripted() -> Callable[[Path, Path], int]:
    """:func:`scripted_index`, for test modules (importing ``conftest`` by name is ambiguous when
    several test folders are collected at once)."""
    return scripted_index


@pytest.fixture(scope="session")
def small_corpus() -> Corpus:
    return corpus(seed=3, entities=6, questions=6)


def scripted_index(docs: Path, home: Path) -> int:
    """Index ``docs`` into the index folder ``home``, embedded by the scripted server."""
    from ekklesia.memory.indexer import Indexer
    from ekklesia.memory.minilm import MINILM_DIM
    from ekklesia.memory.openai_embedder import OpenAIEmbedder
    from ekklesia.memory.vectors import VectorTierConfig

    config = VectorTierConfig(uri=str(home / "vectors"), table="chunks", dim=MINILM_DIM)
    server = uvicorn.Server(
        uvicorn.Config(make_app(dims=MINILM_DIM), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    embedder = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "hash", MINILM_DIM, api_key_env=None)
    indexer = Indexer(config.open(writer=True), embedder, home / "index.sqlite")
    try:
        report = asyncio.run(indexer.index(docs))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return report.files_indexed


@pytest.fixture(scope="session")
def indexed_home(tmp_path_factory: pytest.TempPathFactory, small_corpus: Corpus) -> Path:
    """An ``$EKKLESIA_HOME`` whose ``default`` index holds the small corpus (embedded once)."""
    root = tmp_path_factory.mktemp("research-home")
    docs = small_corpus.write(root / "docs")
    indexed = scripted_index(docs, root / "home" / "memory" / "default")
    assert indexed == len(small_corpus.documents)
    return root / "home"


@pytest.fixture
def home_with_index(indexed_home: Path, ekklesia_home: Path) -> Iterator[Path]:
    """This test's ``$EKKLESIA_HOME``, holding a copy of the indexed corpus."""
    shutil.copytree(indexed_home, ekklesia_home, dirs_exist_ok=True)
    assert os.environ["EKKLESIA_HOME"] == str(ekklesia_home)
    yield ekklesia_home


@pytest.fixture(scope="session")
def web_server(small_corpus: Corpus) -> Iterator[LocalSearchServer]:
    """The four web providers on 127.0.0.1, serving the small corpus's documents."""
    docs = [Document(url=d.url, title=d.title, text=d.text) for d in small_corpus.documents]
    keys = {name: os.environ[env] for name, env in SEARCH_KEYS.items()}
    with LocalSearchServer(keys, docs) as server:
        yield server
