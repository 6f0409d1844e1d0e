"""The FastAPI application of the ingress: routes that check access and hand work to deployments.

:func:`build_api` takes the deployments' handles (:class:`Backends`) and the server's
:class:`Settings`; every route declares its permission (``require``) and calls one deployment
method — no business logic here beyond access, quotas and shaping answers in the documented form.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ekklesia.errors import UserError
from ekklesia.patterns.library import library
from ekklesia.patterns.spec import RunSpec
from ekklesia.runtime.ledger import Budget
from ekklesia.serve.access import (
    Access,
    AccessMiddleware,
    Principal,
    check_routes,
    error_body,
    public,
    quota_error,
    require,
)
from ekklesia.serve.dashboard import make_router
from ekklesia.serve.embeddings import MODEL_NAME
from ekklesia.serve.health import check_health
from ekklesia.serve.keys import ROLES
from ekklesia.serve.quotas import QuotaExceeded, QuotaReservation
from ekklesia.serve.routes_keys import keys_router
from ekklesia.serve.runs import NotFound
from ekklesia.serve.schemas import (
    EmbeddingsRequest,
    EntryIn,
    IndexRequest,
    RunStatus,
    SearchRequest,
    StartRun,
    example,
)

__all__ = ["Backends", "Settings", "build_api"]

_MAX_TOKENS_PER_TEXT = 256  # MiniLM reads at most this many tokens of a text
_RUN_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
RunId = Annotated[str, Path(pattern=_RUN_ID, max_length=200)]
Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]


class Settings(BaseModel):
    """What one server is configured with (shown, less the home, by ``GET /config``)."""

    home: str | None = None
    max_body_bytes: int = Field(default=1 << 20, ge=1024)
    sse_ping_s: float = Field(default=15.0, gt=0)
    models: list[str] = Field(default_factory=lambda: ["sim"])
    max_inputs: int = Field(default=2048, ge=1)
    max_agents: int = Field(default=32, ge=1)
    max_rounds: int = Field(default=20, ge=1)
    max_tasks: int = Field(default=100, ge=1)
    max_memories: int = Field(default=16, ge=1)
    #: Only paths under these may be indexed over HTTP (none: indexing is refused).
    index_roots: list[str] = Field(default_factory=list)


@dataclass
class Backends:
    """The deployments' handles (Ray Serve ``DeploymentHandle`` objects)."""

    runs: Any
    embeddings: Any
    memory: Any


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "No valid API key",
        "content": {
            "application/json": {
                "example": {"detail": "a valid API key is required (Authorization: Bearer …)"}
            }
        },
    },
    403: {
        "description": "The key's role lacks the permission",
        "content": {
            "application/json": {
                "example": {"detail": "the role 'viewer' lacks the permission 'runs:write'"}
            }
        },
    },
    413: {
        "description": "The body is over the size limit",
        "content": {
            "application/json": {
                "example": {"detail": "the request body is over the 1048576-byte limit"}
            }
        },
    },
    429: {
        "description": "Over the key's quota (see Retry-After)",
        "content": {
            "application/json": {"example": {"detail": "key 3f2a over its 60 requests per minute"}}
        },
    },
}
_404: dict[int | str, Any] = {
    404: {
        "description": "Not found",
        "content": {"application/json": {"example": {"detail": "no run with id 'x'"}}},
    }
}
_RUN = {
    "id": "20261201-120000-1a2b3c4d",
    "status": "succeeded",
    "result": {
        "task_id": "task",
        "run_id": "20261201-120001-5e6f7a8b",
        "answer": "42",
        "expected": "42",
        "correct": True,
        "score": 1.0,
        "stop_reason": "consensus",
        "rounds": 1,
    },
}
_SSE: dict[int | str, Any] = {
    200: {
        "description": "Server-Sent Events",
        "content": {
            "text/event-stream": {"example": 'id: 0\ndata: {"kind": "run_started", "seq": 0}\n\n'}
        },
    }
}


def _documented(*extra: dict[int | str, Any]) -> dict[int | str, Any]:
    out = dict(_ERRORS)
    for more in extra:
        out.update(more)
    return out


def _last_event_id(value: str | None) -> int:
    if value is None or not value.strip():
        return -1
    try:
        return max(-1, int(value))
    except ValueError:
        raise HTTPException(422, "the Last-Event-ID header must be an event's number") from None


def build_api(
    backends: Backends, settings: Settings | None = None, access: Access | None = None
) -> FastAPI:
    settings = settings or Settings()
    access = access or Access(max_body_bytes=settings.max_body_bytes)
    api = FastAPI(
        title="ekklesia",
        version=_version(),
        description="Swarm runs with live events, OpenAI-compatible embeddings, memory and "
        "health, behind API keys (Authorization: Bearer …), roles and quotas.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    api.state.access = access
    api.state.settings = settings
    background: set[asyncio.Task[None]] = set()
    known_memories = _memories_on_disk(settings)

    @api.exception_handler(UserError)
    async def _user_error(_: Request, exc: UserError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound) else 422
        return JSONResponse(error_body(status, str(exc).splitlines()[0]), status_code=status)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # a body that is not JSON: malformed, like any other field
            detail = [
                {"loc": ["body"], "msg": "the body is not valid JSON", "type": "json_invalid"}
            ]
            return JSONResponse(error_body(422, detail), 422)
        return JSONResponse(
            error_body(exc.status_code, exc.detail), exc.status_code, headers=exc.headers
        )

    @api.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(error_body(422, errors), status_code=422)

    @api.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        from ray.exceptions import RayError

        if isinstance(exc, RayError):  # a deployment down or restarting: try again later
            detail = f"a part of the server is unavailable ({type(exc).__name__})"
            return JSONResponse(error_body(503, detail), 503, headers={"Retry-After": "5"})
        return JSONResponse(error_body(500, "internal error"), 500)

    # -- health, config, the schema ------------------------------------------------------------

    @api.get(
        "/health",
        dependencies=[Depends(public)],
        responses={
            200: {"description": "Every required part is up"},
            503: {"description": "A required part is down"},
        },
        openapi_extra={"security": []},
    )
    async def health() -> JSONResponse:
        """The layered health report; 503 when a required part is down. Needs no key."""
        report = await check_health(
            {
                "runs": backends.runs.ping.remote(),
                "embeddings": backends.embeddings.ping.remote(),
                "memory": backends.memory.ping.remote(),
            },
            {spec: _endpoint_of(spec) for spec in settings.models},
        )
        return JSONResponse(
            report.model_dump(), status_code=503 if report.status == "down" else 200
        )

    @api.get(
        "/config",
        responses=_documented(
            example(
                {"version": "0.1.0", "routes": ["/v1/runs"], "models": {"embeddings": [MODEL_NAME]}}
            )
        ),
    )
    async def config(_: Annotated[Principal, Depends(require("config:read"))]) -> dict[str, Any]:
        """What this server offers: version, routes, models and limits."""
        routes = sorted({r.path for r in api.routes if hasattr(r, "path")})
        return {
            "version": _version(),
            "routes": routes,
            "models": {"embeddings": [MODEL_NAME], "runs": settings.models},
            "patterns": sorted(library),
            "limits": {
                "max_body_bytes": settings.max_body_bytes,
                "max_embedding_inputs": settings.max_inputs,
                "sse_ping_s": settings.sse_ping_s,
            },
            "roles": list(ROLES),
        }

    @api.get("/openapi.json", responses=_documented(example({"openapi": "3.1.0"})))
    async def openapi(_: Annotated[Principal, Depends(require("config:read"))]) -> dict[str, Any]:
        """This document."""
        return api.openapi()

    # -- runs ----------------------------------------------------------------------------------

    @api.post(
        "/v1/runs",
        status_code=202,
        responses=_documented(example({"id": _RUN["id"], "status": "queued"}, 202, "Accepted")),
    )
    async def start_run(
        body: StartRun, who: Annotated[Principal, Depends(require("runs:write"))]
    ) -> dict[str, Any]:
        """Start a run of ``spec`` on ``task`` (or on ``count`` tasks of ``suite``); answers at once."""  # noqa: E501
        if (body.task is None) == (body.suite is None):
            raise HTTPException(422, "give either `task` or `suite` (with `count`), not both")
        _check_size(body, settings)
        if body.task is not None:
            tasks = [body.task.model_dump()]
        else:
            from ekklesia.tasks import suite as load_suite

            chosen = load_suite(body.suite or "", body.count, body.spec.seed)
            tasks = [t.model_dump(mode="json") for t in chosen]
        spec, reservation = _reserve_run(access, who, body.spec, len(tasks))
        try:
            accepted = await backends.runs.start.remote(spec.to_data(), tasks, who.id)
        except BaseException:
            if reservation is not None:
                access.quotas.settle(reservation, 0, 0.0)
            raise
        if reservation is not None:
            job = asyncio.create_task(_settle_runs(backends, access, reservation, accepted))
            background.add(job)
            job.add_done_callback(background.discard)
        first = accepted[0]
        return {"id": first["id"], "status": first["status"], "runs": accepted}

    @api.get(
        "/v1/runs",
        responses=_documented(example({"runs": [_RUN], "total": 1, "limit": 20, "offset": 0})),
    )
    async def list_runs(
        _: Annotated[Principal, Depends(require("runs:read"))],
        status: RunStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Runs, newest first, a page at a time; ``status`` keeps only runs in that state."""
        page: dict[str, Any] = await backends.runs.page.remote(status, limit, offset)
        return page

    @api.get("/v1/runs/{run_id}", responses=_documented(example(_RUN), _404))
    async def get_run(
        run_id: RunId, _: Annotated[Principal, Depends(require("runs:read"))]
    ) -> dict[str, Any]:
        """Status and, once done, the result (as ``ekklesia run --json`` gives one)."""
        run: dict[str, Any] = await backends.runs.get.remote(run_id)
        return run

    @api.get("/v1/runs/{run_id}/events", responses=_documented(_SSE, _404))
    async def run_events(
        run_id: RunId,
        _: Annotated[Principal, Depends(require("runs:read"))],
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> EventSourceResponse:
        """The run's events as Server-Sent Events (``id:`` its number); resume with Last-Event-ID."""  # noqa: E501
        after = _last_event_id(last_event_id)
        await backends.runs.get.remote(run_id)  # 404 before the stream starts
        return _sse(backends.runs.options(stream=True).events.remote(run_id, after), settings)

    @api.post(
        "/v1/runs/{run_id}/cancel",
        responses=_documented(example({"id": _RUN["id"], "status": "cancelled"}), _404),
    )
    async def cancel_run(
        run_id: RunId, _: Annotated[Principal, Depends(require("runs:write"))]
    ) -> dict[str, Any]:
        """End the run cleanly; its stream ends with ``run_cancelled``."""
        answer: dict[str, Any] = await backends.runs.cancel.remote(run_id)
        return answer

    @api.get(
        "/v1/runs/{run_id}/timeline",
        responses=_documented(
            example(
                {
                    "id": _RUN["id"],
                    "status": "succeeded",
                    "events": [{"kind": "run_started", "seq": 0}],
                }
            ),
            _404,
        ),
    )
    async def run_timeline(
        run_id: RunId, _: Annotated[Principal, Depends(require("runs:read"))]
    ) -> dict[str, Any]:
        """Every event of the run so far, as JSON."""
        timeline: dict[str, Any] = await backends.runs.timeline.remote(run_id)
        return timeline

    @api.get(
        "/v1/patterns",
        responses=_documented(
            example({"patterns": [{"name": "debate", "roles": [], "aggregate": "majority"}]})
        ),
    )
    async def patterns(
        _: Annotated[Principal, Depends(require("patterns:read"))],
    ) -> dict[str, Any]:
        """The pattern library: each pattern's roles, stages, gates and aggregation."""
        return {"patterns": [_pattern(library[name]) for name in library]}

    @api.get(
        "/v1/learners",
        responses=_documented(
            example(
                {
                    "learners": [
                        {
                            "name": "default",
                            "suite": "arithmetic",
                            "best": "solo",
                            "runs": 40,
                            "estimates": {"solo": {"mean": 0.9, "ci": [0.8, 0.97], "runs": 31}},
                        }
                    ]
                }
            )
        ),
    )
    async def learners(
        _: Annotated[Principal, Depends(require("patterns:read"))],
    ) -> dict[str, Any]:
        """The pattern learners this server's home holds: each one's best strategy and its
        estimates, as ``ekklesia learn status --json`` gives them."""
        from ekklesia.learn.learner import describe_state, learner_names, load_state

        return {"learners": [describe_state(load_state(n)) for n in learner_names()]}

    @api.get(
        "/v1/learners/{name}/report",
        response_class=HTMLResponse,
        responses=_documented(
            {200: {"description": "The report", "content": {"text/html": {"example": "<html>…"}}}},
            _404,
        ),
    )
    async def learner_report(
        name: str, _: Annotated[Principal, Depends(require("patterns:read"))]
    ) -> HTMLResponse:
        """A learner's report, as ``ekklesia learn report`` writes it: the regret curve, each
        strategy's estimate over time, accuracy against cost."""
        from ekklesia.learn.learner import PatternLearner, learner_names
        from ekklesia.learn.report import render_report

        if name not in learner_names():
            raise HTTPException(404, f"no learner named {name!r}")
        return HTMLResponse(render_report(PatternLearner.load(name)))

    # -- embeddings ----------------------------------------------------------------------------

    @api.post(
        "/v1/embeddings",
        responses=_documented(
            example(
                {
                    "object": "list",
                    "data": [{"object": "embedding", "index": 0, "embedding": [0.01, -0.02]}],
                    "model": MODEL_NAME,
                    "usage": {"prompt_tokens": 4, "total_tokens": 4},
                }
            )
        ),
    )
    async def embeddings(
        body: EmbeddingsRequest, who: Annotated[Principal, Depends(require("embeddings"))]
    ) -> dict[str, Any]:
        """OpenAI-compatible embeddings (``openai`` clients work unchanged)."""
        texts = [body.input] if isinstance(body.input, str) else body.input
        if body.model != MODEL_NAME:
            raise HTTPException(422, f"model: this server embeds with {MODEL_NAME!r} only")
        if body.dimensions is not None and body.dimensions != 384:
            raise HTTPException(422, f"dimensions: {MODEL_NAME} gives 384 dimensions only")
        if len(texts) > settings.max_inputs:
            raise HTTPException(422, f"input: at most {settings.max_inputs} texts per request")
        for i, text in enumerate(texts):
            if not text.strip():
                raise HTTPException(422, f"input[{i}]: the text is empty")
        most = sum(min(_MAX_TOKENS_PER_TEXT, len(t) + 2) for t in texts)
        try:
            reservation = access.quotas.reserve(who.key, most, 0.0)
        except QuotaExceeded as exc:
            raise quota_error(exc) from None
        tokens = 0
        try:
            vectors, tokens = await backends.embeddings.embed.remote(texts)
        finally:
            access.quotas.settle(reservation, tokens, 0.0)
        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": _encode(row, body.encoding_format)}
                for i, row in enumerate(vectors)
            ],
            "model": MODEL_NAME,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @api.get(
        "/v1/models",
        responses=_documented(
            example(
                {
                    "object": "list",
                    "data": [
                        {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "ekklesia"}
                    ],
                }
            )
        ),
    )
    async def models(_: Annotated[Principal, Depends(require("config:read"))]) -> dict[str, Any]:
        """The models this server offers, in the OpenAI shape."""
        return {
            "object": "list",
            "data": [{"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "ekklesia"}],
        }

    # -- memory and indexing -------------------------------------------------------------------

    @api.post(
        "/v1/memory/{name}/search",
        responses=_documented(
            example({"hits": [{"id": "e1", "text": "…", "score": 0.8, "tier": "vectors"}]}), _404
        ),
    )
    async def search(
        name: Name,
        body: SearchRequest,
        _: Annotated[Principal, Depends(require("memory:read"))],
        store: Literal["memory", "index"] = "memory",
    ) -> dict[str, Any]:
        """Search a memory (or, with ``store=index``, what was indexed under that name)."""
        if store == "memory" and name not in known_memories:
            known_memories.update(_memories_on_disk(settings))
            if name not in known_memories:
                raise HTTPException(404, f"no memory called {name!r}")
        where = body.where.model_dump(exclude_none=True)
        hits = await backends.memory.search.remote(
            name, body.query, body.mode, body.k, where, store
        )
        return {"hits": hits}

    @api.post(
        "/v1/memory/{name}/entries",
        status_code=201,
        responses=_documented(example({"id": "e1", "memory": "default"}, 201, "Created")),
    )
    async def remember(
        name: Name, body: EntryIn, _: Annotated[Principal, Depends(require("memory:write"))]
    ) -> dict[str, Any]:
        """Remember an entry in the memory ``name``."""
        if name not in known_memories:
            if len(known_memories) >= settings.max_memories:
                raise HTTPException(
                    422, f"name: this server holds {settings.max_memories} memories at most"
                )
            known_memories.add(name)
        made: dict[str, Any] = await backends.memory.remember.remote(name, body.model_dump())
        return made

    @api.delete(
        "/v1/memory/{name}/entries/{entry_id}",
        responses=_documented(example({"id": "e1", "deleted": 1}), _404),
    )
    async def forget(
        name: Name,
        entry_id: Annotated[str, Path(min_length=1, max_length=200)],
        _: Annotated[Principal, Depends(require("memory:write"))],
    ) -> dict[str, Any]:
        """Forget one entry."""
        if name not in known_memories | _memories_on_disk(settings):
            raise HTTPException(404, f"no memory called {name!r}")
        gone: dict[str, Any] = await backends.memory.forget.remote(name, entry_id)
        return gone

    @api.post(
        "/v1/index",
        status_code=202,
        responses=_documented(
            example({"id": "index-20261201-120000-1a2b3c4d", "status": "queued"}, 202, "Accepted")
        ),
    )
    async def index(
        body: IndexRequest, _: Annotated[Principal, Depends(require("index"))]
    ) -> dict[str, Any]:
        """Index a path on the server's machine, in the background; follow its events."""
        _check_index_path(body.path, settings)
        job: dict[str, Any] = await backends.memory.index.remote(body.path, body.name)
        return job

    @api.get(
        "/v1/index/{job_id}",
        responses=_documented(
            example({"id": "index-…", "status": "succeeded", "events": []}), _404
        ),
    )
    async def index_job(
        job_id: RunId, _: Annotated[Principal, Depends(require("index"))]
    ) -> dict[str, Any]:
        """An index job's status and events so far."""
        job: dict[str, Any] = await backends.memory.job.remote(job_id)
        return job

    @api.get("/v1/index/{job_id}/events", responses=_documented(_SSE, _404))
    async def index_events(
        job_id: RunId,
        _: Annotated[Principal, Depends(require("index"))],
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> EventSourceResponse:
        """An index job's progress as Server-Sent Events."""
        after = _last_event_id(last_event_id)
        await backends.memory.job.remote(job_id)
        return _sse(backends.memory.options(stream=True).job_events.remote(job_id, after), settings)

    api.include_router(keys_router(access, _documented(), _404))
    _include_dashboard(api)
    check_routes(list(api.routes))
    api.openapi_schema = None
    _secure_schema(api)
    return api  # the middleware wraps it: see build_asgi


def build_asgi(backends: Backends, settings: Settings | None = None) -> AccessMiddleware:
    """The whole ASGI application: the API inside the access middleware."""
    settings = settings or Settings()
    access = Access(max_body_bytes=settings.max_body_bytes)
    return AccessMiddleware(build_api(backends, settings, access), access)


def _include_dashboard(api: FastAPI) -> None:
    """The cost dashboard and ``GET /v1/costs``, behind the same keys and documented alike."""
    api.include_router(make_router(require, _ERRORS))


def _secure_schema(api: FastAPI) -> None:
    """Declare the bearer scheme on every operation but /health, in the OpenAPI document."""
    base = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = base()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "ek_… API key"}
            }
            for path, operations in schema.get("paths", {}).items():
                for operation in operations.values():
                    operation["security"] = [] if path == "/health" else [{"bearer": []}]
            api.openapi_schema = schema
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]


def _sse(source: Any, settings: Settings) -> EventSourceResponse:
    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            async for seq, data in source:
                yield {"id": str(seq), "data": data}
        finally:
            with contextlib.suppress(Exception):
                source.cancel()

    return EventSourceResponse(
        stream(), ping=settings.sse_ping_s, headers={"X-Accel-Buffering": "no"}
    )


def _check_size(body: StartRun, settings: Settings) -> None:
    spec = body.spec
    agents = len(spec.agents) if isinstance(spec.agents, list) else spec.agents or 3
    if agents > settings.max_agents:
        raise HTTPException(422, f"spec.agents: at most {settings.max_agents} agents per run here")
    if spec.rounds > settings.max_rounds:
        raise HTTPException(422, f"spec.rounds: at most {settings.max_rounds} rounds per run here")
    if body.suite is not None and body.count > settings.max_tasks:
        raise HTTPException(422, f"count: at most {settings.max_tasks} tasks per request here")


def _check_index_path(path: str, settings: Settings) -> None:
    from pathlib import Path as FilePath

    if "\x00" in path:
        raise HTTPException(422, "path: not a path")
    wanted = FilePath(path).expanduser().resolve()
    for root in settings.index_roots:
        if wanted.is_relative_to(FilePath(root).expanduser().resolve()):
            return
    roots = ", ".join(settings.index_roots) or "none: start the server with --index-root"
    raise HTTPException(403, f"path: only paths under the index roots may be indexed ({roots})")


def _memories_on_disk(settings: Settings) -> set[str]:
    from pathlib import Path as FilePath

    from ekklesia.core.paths import data_home

    root = (FilePath(settings.home) if settings.home else data_home()) / "memory"
    return {p.name for p in root.iterdir() if p.is_dir()} if root.exists() else set()


def _encode(row: np.ndarray[Any, Any], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(row, dtype="<f4").tobytes()).decode()
    return [float(x) for x in row]


def _reserve_run(
    access: Access, who: Principal, spec: RunSpec, runs: int
) -> tuple[RunSpec, QuotaReservation | None]:
    """Cap each run's budget by what is left of the key's quota, and hold it for all runs."""
    tokens_left, usd_left = access.quotas.headroom(who.key)
    if tokens_left is None and usd_left is None:
        return spec, None
    budget = spec.budget
    max_tokens = budget.max_tokens
    max_usd = budget.max_usd
    if tokens_left is not None:
        share = tokens_left // runs
        if share < 1:
            raise quota_error(
                QuotaExceeded("no tokens left this hour", 3600, access.quotas.remaining(who.key))
            )
        max_tokens = share if max_tokens is None else min(max_tokens, share)
    if usd_left is not None:
        share_usd = usd_left / runs
        if share_usd <= 0:
            raise quota_error(
                QuotaExceeded("no USD left today", 86400, access.quotas.remaining(who.key))
            )
        max_usd = share_usd if max_usd is None else min(max_usd, share_usd)
    capped = spec.model_copy(update={"budget": Budget(max_tokens=max_tokens, max_usd=max_usd)})
    try:
        reservation = access.quotas.reserve(
            who.key,
            (max_tokens or 0) * runs if tokens_left is not None else 0,
            (max_usd or 0.0) * runs if usd_left is not None else 0.0,
        )
    except QuotaExceeded as exc:
        raise quota_error(exc) from None
    return capped, reservation


async def _settle_runs(
    backends: Backends, access: Access, reservation: QuotaReservation, runs: list[dict[str, str]]
) -> None:
    tokens, usd = 0, 0.0
    try:
        for run in runs:
            spent = await backends.runs.wait.remote(run["id"])
            tokens += int(spent["tokens"])
            usd += float(spent["usd"])
    finally:
        access.quotas.settle(reservation, tokens, usd)


def _pattern(pattern: Any) -> dict[str, Any]:
    return {
        "name": pattern.name,
        "description": pattern.description,
        "roles": list(pattern.roles),
        "stages": [s.name for s in pattern.stages],
        "gates": [g.name for g in pattern.gates],
        "aggregate": pattern.aggregate,
        "suite": pattern.suite,
    }


def _endpoint_of(spec: str) -> str | None:
    """The base URL a model spec talks to, if any (a simulated model has none)."""
    from ekklesia.agents.spec import model_from_spec

    try:
        model = model_from_spec(spec)
    except UserError:
        return None
    url = getattr(model, "base_url", None)
    return url if isinstance(url, str) else None


def _version() -> str:
    from ekklesia import __version__

    return __version__
