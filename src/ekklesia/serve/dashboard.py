"""``GET /v1/costs`` and ``GET /dashboard``: what runs cost, as data and as a page.

:func:`make_router` builds both routes around the application's ``require(permission)``, which
returns the FastAPI dependency that authenticates the caller's key and checks its permission.
``/v1/costs`` answers with :class:`~ekklesia.runtime.costs.CostReport` — the figures of
``ekklesia cost report --by GROUP`` — as JSON or CSV. ``/dashboard`` is one self-contained page
(``dashboard.html``: HTML, CSS and JS, nothing loaded from elsewhere) that reads ``/v1/costs``,
``/v1/runs`` and ``/v1/runs/{id}/timeline`` with the key the user gives it (pasted, or ``?key=``
once; kept in ``sessionStorage``, sent as ``Authorization: Bearer``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ekklesia.errors import TimelineNotFound, UserError
from ekklesia.runtime.costs import CostRecords, GroupBy, parse_since

__all__ = ["make_router"]

_EXAMPLE = {
    "group_by": "model",
    "total": {
        "calls": 6,
        "input_tokens": 900,
        "output_tokens": 300,
        "usd": 0.000315,
        "unpriced_calls": 0,
        "failed_calls": 0,
        "refused_calls": 0,
    },
    "rows": [
        {
            "model": "openai/gpt-4o-mini",
            "label": "",
            "runs": 2,
            "first": "2026-12-01T12:00:00Z",
            "last": "2026-12-01T12:00:05Z",
            "calls": 6,
            "input_tokens": 900,
            "output_tokens": 300,
            "usd": 0.000315,
            "unpriced_calls": 0,
            "failed_calls": 0,
            "refused_calls": 0,
        }
    ],
    "more": 0,
}


def _page() -> str:
    return resources.files("ekklesia.serve").joinpath("dashboard.html").read_text("utf-8")


def _invalid(field: str, message: str) -> HTTPException:
    """A 422 in FastAPI's own shape, naming the query field."""
    return HTTPException(422, [{"loc": ["query", field], "msg": message, "type": "value_error"}])


def make_router(
    require: Callable[[str], Any], errors: Mapping[int | str, dict[str, Any]] | None = None
) -> APIRouter:
    """The cost routes, behind ``require("costs:read")`` and ``require("dashboard:read")``;
    ``errors`` are the application's documented error answers (401, 403, 429…), added to each
    route's own."""
    router = APIRouter()
    common = dict(errors or {})

    @router.get(
        "/v1/costs",
        dependencies=[Depends(require("costs:read"))],
        tags=["costs"],
        summary="Tokens and USD of the recorded model calls, grouped",
        responses={
            200: {
                "description": "Totals, newest group first (JSON, or CSV with format=csv)",
                "content": {
                    "application/json": {"example": _EXAMPLE},
                    "text/csv": {"example": "model,label,runs,first,last,calls,...\n"},
                },
            },
            **common,
            404: {"description": "No timeline for a run named in run="},
            422: {"description": "A bad value; the detail names the field"},
        },
    )
    def costs(
        since: Annotated[
            str | None, Query(description="Calls at or after this UTC date or time (ISO 8601)")
        ] = None,
        run: Annotated[list[str] | None, Query(description="Only these runs (repeatable)")] = None,
        session: Annotated[str | None, Query(description="Only the runs of this session")] = None,
        group_by: Annotated[GroupBy, Query(description="How to total the calls")] = "model",
        limit: Annotated[int | None, Query(ge=1, le=10_000, description="At most N rows")] = None,
        format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
    ) -> Response:
        """The figures of ``ekklesia cost report --by GROUP``, for the same filters."""
        try:
            start = parse_since(since)
        except UserError as exc:
            raise _invalid("since", str(exc)) from None
        try:
            records = CostRecords.load(since=start, runs=run or [], session=session)
        except TimelineNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except UserError as exc:  # a damaged file on the server: say which, not a 500
            raise HTTPException(422, str(exc)) from None
        report = records.report(group_by, limit)
        if format == "csv":
            return Response(report.as_csv(), media_type="text/csv; charset=utf-8")
        return JSONResponse(report.as_json())

    @router.get(
        "/dashboard",
        dependencies=[Depends(require("dashboard:read"))],
        tags=["costs"],
        summary="The cost dashboard (a web page)",
        response_class=HTMLResponse,
        responses={
            200: {
                "description": "The page",
                "content": {"text/html": {"example": "<!doctype html>…"}},
            },
            **common,
        },
    )
    def dashboard() -> HTMLResponse:
        """Runs and their status, cost over time and by model, agent and pattern, alerts,
        drill-down from a session to its runs to a transcript, CSV and JSON export."""
        return HTMLResponse(_page(), headers={"Cache-Control": "no-store"})

    return router
