"""A local server on 127.0.0.1 speaking HubSpot's, Salesforce's and Gong's documented shapes.

- HubSpot CRM v3: ``GET /crm/v3/objects/contacts?limit&after&properties`` →
  ``{"results": [{"id", "properties", "createdAt", "updatedAt", "archived"}],
  "paging": {"next": {"after", "link"}}}``; ``POST .../contacts/search`` with a
  ``lastmodifieddate GTE`` filter; ``X-HubSpot-RateLimit-*`` headers; Bearer auth.
- Salesforce REST: ``GET /services/data/v59.0/query?q=SOQL`` → ``{"totalSize", "done",
  "nextRecordsUrl", "records": [{"attributes": {...}, "Id", ...}]}``, the next page at
  ``nextRecordsUrl``; ``Sforce-Limit-Info: api-usage=N/15000``; Bearer auth; errors as
  ``[{"message", "errorCode"}]``.
- Gong: ``GET /v2/calls?fromDateTime&cursor`` → ``{"requestId", "records": {"totalRecords",
  "currentPageSize", "currentPageNumber", "cursor"}, "calls": [...]}``; Basic auth.

Faults, set on ``server.faults``: ``rate_limit_first`` answers the first request 429 with
``Retry-After``; ``spend_window`` says on one HubSpot page that no calls are left in the window;
``fail_after_pages`` answers 503 once that many pages were served (until cleared).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TOKEN = "test-token-0123456789abcdef"
GONG_KEY, GONG_SECRET = "gong-key-0123456789", "gong-secret-0123456789"


@dataclass
class Faults:
    rate_limit_first: bool = False
    spend_window: bool = False
    fail_after_pages: int | None = None
    pages: int = 0
    requests: list[str] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)


def _contacts(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(1000 + i),
            "properties": {
                "email": f"person{i}@example.com",
                "firstname": f"First{i}",
                "lastname": f"Last{i}",
                "company": ["Acme", "Globex", "Initech"][i % 3],
                "lifecyclestage": ["lead", "customer"][i % 2],
                "createdate": f"2024-01-{1 + i % 28:02d}T00:00:00Z",
                "lastmodifieddate": f"2024-03-{1 + i % 28:02d}T12:00:00Z",
            },
            "createdAt": f"2024-01-{1 + i % 28:02d}T00:00:00Z",
            "updatedAt": f"2024-03-{1 + i % 28:02d}T12:00:00Z",
            "archived": False,
        }
        for i in range(n)
    ]


def _accounts(n: int) -> list[dict[str, Any]]:
    return [
        {
            "attributes": {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{i}"},
            "Id": f"001{i:012d}",
            "Name": f"Account {i}",
            "Industry": ["Energy", "Retail"][i % 2],
            "AnnualRevenue": 1000.0 * i,
            "NumberOfEmployees": 10 + i,
            "CreatedDate": "2024-01-01T00:00:00.000+0000",
            "SystemModstamp": f"2024-02-{1 + i % 28:02d}T00:00:00.000+0000",
        }
        for i in range(n)
    ]


def _calls(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(7000 + i),
            "url": f"https://app.gong.io/call?id={7000 + i}",
            "title": f"Discovery call {i}",
            "scheduled": f"2024-04-{1 + i % 28:02d}T09:00:00Z",
            "started": f"2024-04-{1 + i % 28:02d}T09:01:00Z",
            "duration": 600 + i,
            "primaryUserId": "234599484848423",
            "direction": "Outbound",
            "system": "Zoom",
            "scope": "External",
            "media": "Video",
            "language": "eng",
        }
        for i in range(n)
    ]


def make_app(size: int, page_size: int) -> tuple[FastAPI, Faults]:
    app = FastAPI()
    faults = Faults()
    contacts, accounts, calls = _contacts(size), _accounts(size), _calls(size)

    def fault(request: Request) -> JSONResponse | None:
        faults.requests.append(f"{request.method} {request.url.path}?{request.url.query}")
        if faults.rate_limit_first:
            faults.rate_limit_first = False
            return JSONResponse(
                {
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "category": "RATE_LIMITS",
                },
                status_code=429,
                headers={"Retry-After": "0.05"},
            )
        if faults.fail_after_pages is not None and faults.pages >= faults.fail_after_pages:
            return JSONResponse({"message": "Service Unavailable"}, status_code=503)
        faults.pages += 1
        return None

    def bearer(request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def hubspot_page(rows: list[dict[str, Any]], after: int, base: str) -> dict[str, Any]:
        chunk = rows[after : after + page_size]
        body: dict[str, Any] = {"results": chunk}
        if after + page_size < len(rows):
            nxt = str(after + page_size)
            body["paging"] = {"next": {"after": nxt, "link": f"{base}?after={nxt}"}}
        return body

    hubspot_headers = {
        "X-HubSpot-RateLimit-Daily": "250000",
        "X-HubSpot-RateLimit-Daily-Remaining": "249000",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": "100",
        "X-HubSpot-RateLimit-Remaining": "97",
    }

    @app.get("/crm/v3/objects/contacts")
    async def hubspot_list(request: Request, limit: int = 10, after: str = "0") -> Any:
        if not bearer(request):
            return JSONResponse({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
        if (failed := fault(request)) is not None:
            return failed
        body = hubspot_page(contacts, int(after), str(request.url.path))
        headers = dict(hubspot_headers)
        if faults.spend_window:  # this page uses the window's last call
            faults.spend_window = False
            headers |= {"X-HubSpot-RateLimit-Remaining": "0"}
            headers |= {"X-HubSpot-RateLimit-Interval-Milliseconds": "200"}
        return JSONResponse(body, headers=headers)

    @app.post("/crm/v3/objects/contacts/search")
    async def hubspot_search(request: Request) -> Any:
        if not bearer(request):
            return JSONResponse({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
        if (failed := fault(request)) is not None:
            return failed
        search = await request.json()
        millis = int(search["filterGroups"][0]["filters"][0]["value"])
        since = datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = sorted(
            (c for c in contacts if c["properties"]["lastmodifieddate"] >= since),
            key=lambda c: (c["properties"]["lastmodifieddate"], c["id"]),
        )
        body = hubspot_page(rows, int(search.get("after") or 0), str(request.url.path))
        return JSONResponse(body | {"total": len(rows)}, headers=hubspot_headers)

    def salesforce_page(start: int, query_id: str) -> dict[str, Any]:
        chunk = accounts[start : start + page_size]
        done = start + page_size >= len(accounts)
        body: dict[str, Any] = {"totalSize": len(accounts), "done": done, "records": chunk}
        if not done:
            body["nextRecordsUrl"] = f"/services/data/v59.0/query/{query_id}-{start + page_size}"
        return body

    def sforce(request: Request) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={len(faults.requests)}/15000"}

    @app.get("/services/data/v59.0/query")
    async def salesforce_query(request: Request, q: str) -> Any:
        if not bearer(request):
            return JSONResponse(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], 401
            )
        if (failed := fault(request)) is not None:
            return failed
        assert q.startswith("SELECT Id, SystemModstamp") and "FROM Account" in q
        faults.queries.append(q)
        return JSONResponse(salesforce_page(0, "01gRM000000"), headers=sforce(request))

    @app.get("/services/data/v59.0/query/{locator}")
    async def salesforce_more(request: Request, locator: str) -> Any:
        if not bearer(request):
            return JSONResponse([{"message": "bad", "errorCode": "INVALID_SESSION_ID"}], 401)
        if (failed := fault(request)) is not None:
            return failed
        query_id, _, start = locator.rpartition("-")
        return JSONResponse(salesforce_page(int(start), query_id), headers=sforce(request))

    @app.get("/v2/calls")
    async def gong_calls(request: Request, cursor: str | None = None) -> Any:
        pair = base64.b64encode(f"{GONG_KEY}:{GONG_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {pair}":
            return JSONResponse({"requestId": "r", "errors": ["Unauthorized"]}, 401)
        if (failed := fault(request)) is not None:
            return failed
        start = int(cursor or 0)
        chunk = calls[start : start + page_size]
        records: dict[str, Any] = {
            "totalRecords": len(calls),
            "currentPageSize": len(chunk),
            "currentPageNumber": start // page_size,
        }
        if start + page_size < len(calls):
            records["cursor"] = str(start + page_size)
        return {"requestId": "4al018gzaztcr8nbukw", "records": records, "calls": chunk}

    return app, faults


class DataServer:
    """The vendors' APIs on a free loopback port, in a background thread."""

    def __init__(self, size: int = 250, page_size: int = 50) -> None:
        app, self.faults = make_app(size, page_size)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        sockets = self._server.servers[0].sockets
        host, port = sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> DataServer:
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started:
            if time.time() > deadline:
                raise RuntimeError("the data server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(5)


@contextmanager
def data_server(size: int = 250, page_size: int = 50) -> Iterator[DataServer]:
    with DataServer(size, page_size) as server:
        yield server
