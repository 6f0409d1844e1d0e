"""A local search server on 127.0.0.1 that speaks Tavily's, Exa's, Serper's and Perplexity's APIs.

Each provider lives under its own prefix, so its base URL is ``{root}/tavily``, ``{root}/exa``,
``{root}/serper`` or ``{root}/perplexity``; the paths after it, the auth headers checked, the
request fields read and the answer and error bodies are those each provider documents. Hits come
from the documents the server is given (``url``, ``title``, ``text``), ranked by the words they
share with the query; the passage is the document's sentence that shares the most.

Control API: ``POST /_control/script`` ``{"provider": "tavily", "steps": [{"status": 429,
"retry_after": 0.05}, ...]}`` makes the next requests to that provider fail as scripted, in order;
``GET /_control/requests?provider=tavily`` lists what it received (headers included);
``POST /_control/documents`` replaces the documents; ``POST /_control/reset`` forgets scripts and
requests.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

PROVIDERS = ("tavily", "exa", "serper", "perplexity")
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"[^.!?]+[.!?]?")


class Fault(BaseModel):
    status: int
    retry_after: float | None = None


class Script(BaseModel):
    provider: str
    steps: list[Fault] = Field(default_factory=list)


class Document(BaseModel):
    url: str
    title: str
    text: str


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def rank(documents: list[Document], query: str, k: int) -> list[tuple[Document, str, float]]:
    """The documents sharing words with the query, best first, with their best sentence."""
    asked = _words(query)
    scored = []
    for doc in documents:
        sentences = [s.strip() for s in _SENTENCE.findall(doc.text) if s.strip()]
        best = max(sentences, key=lambda s: len(asked & _words(s)), default="")
        overlap = len(asked & _words(doc.title + " " + doc.text))
        if overlap:
            scored.append((doc, best, round(overlap / max(len(asked), 1), 4)))
    scored.sort(key=lambda row: (-row[2], row[0].url))
    return scored[:k]


def _error(provider: str, status: int, message: str, headers: dict[str, str]) -> JSONResponse:
    bodies: dict[str, Any] = {
        "tavily": {"detail": {"error": message}},
        "exa": {"requestId": "req-local", "error": message, "tag": "LOCAL_ERROR"},
        "serper": {"message": message, "statusCode": status},
        "perplexity": {"error": {"message": message, "type": "local_error", "code": status}},
    }
    return JSONResponse(bodies[provider], status_code=status, headers=headers)


def make_app(keys: dict[str, str], documents: list[Document]) -> FastAPI:
    app = FastAPI(title="local search providers")
    state: dict[str, Any] = {"documents": list(documents)}
    scripts: dict[str, collections.deque[Fault]] = collections.defaultdict(collections.deque)
    received: list[dict[str, Any]] = []

    def authorised(provider: str, request: Request, body: dict[str, Any]) -> bool:
        want = keys[provider]
        if provider in ("tavily", "perplexity"):
            return request.headers.get("authorization") == f"Bearer {want}"
        return request.headers.get("x-api-key") == want

    async def gate(provider: str, request: Request) -> tuple[dict[str, Any], JSONResponse | None]:
        body = await request.json()
        received.append({"provider": provider, "headers": dict(request.headers), "body": body})
        if scripts[provider]:
            fault = scripts[provider].popleft()
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            return body, _error(provider, fault.status, f"scripted {fault.status}", headers)
        if not authorised(provider, request, body):
            status = 403 if provider == "serper" else 401
            return body, _error(provider, status, "Unauthorized: invalid API key", {})
        return body, None

    @app.post("/tavily/search")
    async def tavily(request: Request) -> Any:
        body, refused = await gate("tavily", request)
        if refused:
            return refused
        started = time.perf_counter()
        hits = rank(state["documents"], str(body["query"]), int(body.get("max_results", 5)))
        return {
            "query": body["query"],
            "answer": None,
            "images": [],
            "follow_up_questions": None,
            "results": [
                {"title": d.title, "url": d.url, "content": s, "score": sc, "raw_content": None}
                for d, s, sc in hits
            ],
            "response_time": round(time.perf_counter() - started, 4),
        }

    @app.post("/exa/search")
    async def exa(request: Request) -> Any:
        body, refused = await gate("exa", request)
        if refused:
            return refused
        hits = rank(state["documents"], str(body["query"]), int(body.get("numResults", 10)))
        return {
            "requestId": "req-local",
            "resolvedSearchType": "neural",
            "results": [
                {
                    "id": d.url,
                    "url": d.url,
                    "title": d.title,
                    "score": sc,
                    "publishedDate": "2024-01-01T00:00:00.000Z",
                    "author": None,
                    "text": d.text,
                    "highlights": [s],
                    "highlightScores": [sc],
                }
                for d, s, sc in hits
            ],
            "costDollars": {"total": 0.005},
        }

    @app.post("/serper/search")
    async def serper(request: Request) -> Any:
        body, refused = await gate("serper", request)
        if refused:
            return refused
        hits = rank(state["documents"], str(body["q"]), int(body.get("num", 10)))
        return {
            "searchParameters": {"q": body["q"], "gl": body.get("gl"), "type": "search"},
            "organic": [
                {"title": d.title, "link": d.url, "snippet": s, "position": i}
                for i, (d, s, _) in enumerate(hits, start=1)
            ],
            "credits": 1,
        }

    @app.post("/perplexity/chat/completions")
    async def perplexity(request: Request) -> Any:
        body, refused = await gate("perplexity", request)
        if refused:
            return refused
        question = str(body["messages"][-1]["content"])
        hits = rank(state["documents"], question, 5)
        answer = " ".join(f"{s} [{i}]" for i, (_, s, _) in enumerate(hits, start=1))
        return {
            "id": "pplx-local",
            "model": body.get("model", "sonar"),
            "object": "chat.completion",
            "created": int(time.time()),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": answer},
                }
            ],
            "citations": [d.url for d, _, _ in hits],
            "search_results": [
                {"title": d.title, "url": d.url, "date": "2024-01-01", "snippet": s}
                for d, s, _ in hits
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
        }

    @app.post("/_control/script")
    async def script(spec: Script) -> Any:
        scripts[spec.provider].extend(spec.steps)
        return {"ok": True}

    @app.post("/_control/documents")
    async def set_documents(docs: list[Document]) -> Any:
        state["documents"] = docs
        return {"ok": True}

    @app.get("/_control/requests")
    async def requests(provider: str | None = None) -> Any:
        return [r for r in received if provider is None or r["provider"] == provider]

    @app.post("/_control/reset")
    async def reset() -> Any:
        scripts.clear()
        received.clear()
        return {"ok": True}

    return app


class LocalSearchServer:
    """The server on a free loopback port, in a background thread, and a client for it."""

    def __init__(self, keys: dict[str, str], documents: list[Document] | None = None) -> None:
        config = uvicorn.Config(
            make_app(keys, documents or []),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="search-server", daemon=True)
        self.port = 0

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, provider: str) -> str:
        return f"{self.root}/{provider}"

    def start(self) -> LocalSearchServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local search server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> LocalSearchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, provider: str, steps: list[dict[str, Any]]) -> None:
        payload = {"provider": provider, "steps": steps}
        httpx.post(f"{self.root}/_control/script", json=payload, timeout=10).raise_for_status()

    def documents(self, docs: list[Document]) -> None:
        payload = [d.model_dump() for d in docs]
        httpx.post(f"{self.root}/_control/documents", json=payload, timeout=10).raise_for_status()

    def requests(self, provider: str | None = None) -> list[dict[str, Any]]:
        params = {"provider": provider} if provider else {}
        answer = httpx.get(f"{self.root}/_control/requests", params=params, timeout=10)
        answer.raise_for_status()
        return list(answer.json())

    def reset(self) -> None:
        httpx.post(f"{self.root}/_control/reset", timeout=10).raise_for_status()
