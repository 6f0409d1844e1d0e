"""Tavily, Exa, Serper and Perplexity against a local server that speaks their documented APIs:
request and answer shapes, auth headers, error shapes, retries, the breaker, and keys kept out of
every error and log line."""

from __future__ import annotations

import logging
import pickle
import secrets
from collections.abc import Iterator

import pytest
from search_server import Document, LocalSearchServer

from ekklesia.connectors import CircuitOpen, CircuitPolicy, PermanentError, RetryPolicy
from ekklesia.connectors.search import (
    PROVIDERS,
    HttpSearchProvider,
    SearchProvider,
    SearchResult,
    search_provider,
)
from ekklesia.errors import TransientError, UserError

KEYS = {name: f"ekks-{name}-" + secrets.token_hex(16) for name in PROVIDERS}
DOCS = [
    Document(
        url="https://example.org/velmora",
        title="Velmora Institute",
        text="The Velmora Institute was founded in 1847. It studies tidal engines.",
    ),
    Document(
        url="https://example.org/kestrel",
        title="Kestrel Works",
        text="Kestrel Works builds barometers. Its founder was Ilse Marrow.",
    ),
]
FAST = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.02, jitter_s=0.0)


@pytest.fixture(scope="module")
def server() -> Iterator[LocalSearchServer]:
    with LocalSearchServer(KEYS, DOCS) as running:
        yield running


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, cls in PROVIDERS.items():
        monkeypatch.setenv(cls.key_name, KEYS[name])


def provider(server: LocalSearchServer, name: str, request: pytest.FixtureRequest, **kw: object):  # type: ignore[no-untyped-def]
    # an endpoint of its own per test: the breaker's state is per endpoint and per process
    return search_provider(
        name,
        base_url=server.base_url(name),
        retry=kw.pop("retry", FAST),
        endpoint=f"{name}-{request.node.name}",
        **kw,
    )


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_each_provider_answers_typed_results_with_verbatim_passages(
    server: LocalSearchServer, name: str, request: pytest.FixtureRequest
) -> None:
    found = await provider(server, name, request).search("When was the Velmora Institute founded?")
    assert isinstance(provider(server, name, request), SearchProvider)
    assert found and all(isinstance(r, SearchResult) for r in found)
    top = found[0]
    assert (top.url, top.title, top.provider, top.rank) == (
        "https://example.org/velmora",
        "Velmora Institute",
        name,
        1,
    )
    assert top.passage == "The Velmora Institute was founded in 1847."
    assert top.passage in DOCS[0].text  # verbatim
    assert top.score is not None and top.score > 0


def test_requests_carry_the_documented_fields_and_auth(server: LocalSearchServer) -> None:
    seen = {r["provider"]: r for r in server.requests()}
    assert seen["tavily"]["headers"]["authorization"] == f"Bearer {KEYS['tavily']}"
    assert {"query", "max_results", "search_depth"} <= set(seen["tavily"]["body"])
    assert seen["exa"]["headers"]["x-api-key"] == KEYS["exa"]
    assert seen["exa"]["body"]["numResults"] == 5
    assert "highlights" in seen["exa"]["body"]["contents"]
    assert seen["serper"]["headers"]["x-api-key"] == KEYS["serper"]
    assert {"q", "num"} <= set(seen["serper"]["body"])
    assert seen["perplexity"]["headers"]["authorization"] == f"Bearer {KEYS['perplexity']}"
    assert seen["perplexity"]["body"]["model"] == "sonar"


async def test_k_bounds_the_results(
    server: LocalSearchServer, request: pytest.FixtureRequest
) -> None:
    found = await provider(server, "tavily", request).search("Velmora Kestrel founded founder", k=1)
    assert len(found) == 1


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_a_wrong_key_is_a_permanent_error_that_never_shows_the_key(
    server: LocalSearchServer,
    name: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = f"ekks-wrong-{name}-" + secrets.token_hex(16)
    monkeypatch.setenv(PROVIDERS[name].key_name, wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentError) as caught:
        await provider(server, name, request).search("Velmora")
    assert caught.value.status in (401, 403)
    assert "Unauthorized" in str(caught.value)
    for text in (str(caught.value), caplog.text):
        assert wrong not in text and KEYS[name] not in text


async def test_a_missing_key_says_how_to_add_it(
    server: LocalSearchServer, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXA_API_KEY")
    monkeypatch.delenv("EKKLESIA_SECRETS_FILE", raising=False)
    with pytest.raises(
        UserError, match=r"needs the API key EXA_API_KEY: run `ekklesia connect add exa`"
    ):
        await provider(server, "exa", request).search("Velmora")


async def test_a_key_from_the_secrets_file_is_used(
    server: LocalSearchServer,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "secrets.env"
    path.write_text(f"SERPER_API_KEY={KEYS['serper']}\n")
    monkeypatch.delenv("SERPER_API_KEY")
    monkeypatch.setenv("EKKLESIA_SECRETS_FILE", str(path))
    assert await provider(server, "serper", request).search("Kestrel barometers")


@pytest.mark.parametrize("name", sorted(PROVIDERS))
async def test_429_with_retry_after_is_retried_and_logged_without_the_key(
    server: LocalSearchServer,
    name: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ekklesia.connectors")
    server.script(name, [{"status": 429, "retry_after": 0.05}, {"status": 503}])
    found = await provider(server, name, request).search("Kestrel Works founder")
    assert found[0].url == "https://example.org/kestrel"
    retries = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert "in 0.05s" in retries[0].getMessage() and "429" in retries[0].getMessage()
    assert KEYS[name] not in caplog.text


async def test_retries_run_out_with_the_last_transient_error(
    server: LocalSearchServer, request: pytest.FixtureRequest
) -> None:
    server.script("tavily", [{"status": 500}] * 3)
    with pytest.raises(TransientError) as caught:
        await provider(server, "tavily", request).search("Velmora")
    assert caught.value.status == 500
    assert "scripted 500" in str(caught.value)


async def test_the_breaker_opens_after_repeated_server_errors(
    server: LocalSearchServer, request: pytest.FixtureRequest
) -> None:
    search = provider(
        server,
        "exa",
        request,
        retry=RetryPolicy(attempts=1),
        circuit=CircuitPolicy(failure_threshold=2, reset_after_s=60),
    )
    server.script("exa", [{"status": 502}, {"status": 502}])
    for _ in range(2):
        with pytest.raises(TransientError):
            await search.search("Velmora")
    before = len(server.requests("exa"))
    with pytest.raises(CircuitOpen):
        await search.search("Velmora")
    assert len(server.requests("exa")) == before  # failed fast: nothing was sent


async def test_rate_limits_do_not_open_the_breaker(
    server: LocalSearchServer, request: pytest.FixtureRequest
) -> None:
    search = provider(
        server,
        "serper",
        request,
        retry=RetryPolicy(attempts=1),
        circuit=CircuitPolicy(failure_threshold=1, reset_after_s=60),
    )
    server.script("serper", [{"status": 429, "retry_after": 0}])
    with pytest.raises(TransientError):
        await search.search("Kestrel")
    assert await search.search("Kestrel")


def test_a_provider_pickles_without_its_key_or_clients(server: LocalSearchServer) -> None:
    search = search_provider("tavily", base_url=server.base_url("tavily"))
    blob = pickle.dumps(search)
    assert KEYS["tavily"].encode() not in blob
    again = pickle.loads(blob)
    assert isinstance(again, HttpSearchProvider) and again.url == search.url


def test_unknown_providers_and_bad_queries_are_user_errors() -> None:
    with pytest.raises(UserError, match="unknown search provider 'bing'"):
        search_provider("bing")


async def test_an_empty_query_is_refused_before_any_call(
    server: LocalSearchServer, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(UserError, match="query is empty"):
        await provider(server, "tavily", request).search("  ")


async def test_perplexity_with_only_citations_quotes_the_sentences_citing_each_url() -> None:
    from ekklesia.connectors.search.perplexity import PerplexitySearch

    body = {
        "choices": [
            {"message": {"content": "Velmora dates from 1847 [1]. Kestrel makes barometers [2]."}}
        ],
        "citations": ["https://a.example", "https://b.example"],
    }
    found = PerplexitySearch()._results(body)
    assert [(r.url, r.passage) for r in found] == [
        ("https://a.example", "Velmora dates from 1847 [1]."),
        ("https://b.example", "Kestrel makes barometers [2]."),
    ]
