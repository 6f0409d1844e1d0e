"""A local server on 127.0.0.1 speaking HubSpot's, Salesforce's and Gong's documented shapes.

- HubSpot CRM v3: ``GET /crm/v3/objects/{contacts|companies|deals}?limit&after&properties``
  (``&associations=companies`` for deals) → ``{"results": [{"id", "properties", "createdAt",
  "updatedAt", "archived"[, "associations": {"companies": {"results": [{"id", "type"}]}}]}],
  "paging": {"next": {"after", "link"}}}``; ``POST .../{type}/search`` with a ``GTE`` filter on
  ``lastmodifieddate`` (contacts) or ``hs_lastmodifieddate``; ``POST
  /crm/v4/associations/deals/companies/batch/read`` → ``{"status", "results": [{"from": {"id"},
  "to": [{"toObjectId", "associationTypes"}]}]}``; ``X-HubSpot-RateLimit-*`` headers; Bearer auth.
- Salesforce REST: ``GET /services/data/v59.0/query?q=SOQL`` (``FROM Account|Opportunity|
  Contact``) → ``{"totalSize", "done", "nextRecordsUrl", "records": [{"attributes": {...}, "Id",
  ...}]}``, the next page at ``nextRecordsUrl``; ``Sforce-Limit-Info: api-usage=N/15000``; Bearer
  auth; errors as ``[{"message", "errorCode"}]``.
- Gong: ``GET /v2/calls?fromDateTime&cursor`` and ``GET /v2/users?cursor`` → ``{"requestId",
  "records": {"totalRecords", "currentPageSize", "currentPageNumber", "cursor"}, "calls"|"users":
  [...]}``; Basic auth.

``size`` records of each kind but HubSpot companies and Gong users, of which there are ``size //
5``; each deal, call, opportunity and Salesforce contact points at one of those (opportunities and
contacts at one of the first ``size // 5`` accounts).

Faults, set on ``server.faults``: ``rate_limit_first`` answers the first request 429 with
``Retry-After``; ``spend_window`` says on one HubSpot page that no calls are left in the window;
``fail_after_pages`` answers 503 once that many pages were served (until cleared);
``request_limit_after`` answers Salesforce's ``403 REQUEST_LIMIT_EXCEEDED`` once that many pages
were served (until cleared).
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
    request_limit_after: int | None = None
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


def _companies(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(5000 + i),
            "properties": {
                "name": f"Company {i}",
                "domain": f"company{i}.example.com",
                "industry": ["SOFTWARE", "RETAIL"][i % 2],
                "city": ["Boston", "Dublin"][i % 2],
                "numberofemployees": str(10 * (i + 1)),
                "annualrevenue": str(100000 * (i + 1)),
                "hs_lastmodifieddate": f"2024-03-{1 + i % 28:02d}T12:00:00Z",
            },
            "createdAt": "2024-01-01T00:00:00Z",
            "updatedAt": f"2024-03-{1 + i % 28:02d}T12:00:00Z",
            "archived": False,
        }
        for i in range(n)
    ]


def _deals(n: int, companies: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(9000 + i),
            "properties": {
                "dealname": f"Deal {i}",
                "amount": str(1000 * (1 + i % 7)),
                "dealstage": ["appointmentscheduled", "closedwon"][i % 2],
                "pipeline": "default",
                "closedate": f"2024-05-{1 + i % 28:02d}T00:00:00Z",
                "hs_lastmodifieddate": f"2024-03-{1 + i % 28:02d}T12:00:00Z",
            },
            "createdAt": "2024-02-01T00:00:00Z",
            "updatedAt": f"2024-03-{1 + i % 28:02d}T12:00:00Z",
            "archived": False,
            "company": str(5000 + i % companies),  # served as an association, not a property
        }
        for i in range(n)
    ]


def _opportunities(n: int, accounts: int) -> list[dict[str, Any]]:
    return [
        {
            "attributes": {
                "type": "Opportunity",
                "url": f"/services/data/v59.0/sobjects/Opportunity/006{i:012d}",
            },
            "Id": f"006{i:012d}",
            "Name": f"Opportunity {i}",
            "AccountId": f"001{i % accounts:012d}",
            "StageName": ["Prospecting", "Closed Won"][i % 2],
            "Amount": 500.0 * (1 + i % 4),
            "CloseDate": f"2024-06-{1 + i % 28:02d}",
            "IsWon": i % 2 == 1,
            "CreatedDate": "2024-01-05T00:00:00.000+0000",
            "SystemModstamp": f"2024-02-{1 + i % 28:02d}T00:00:00.000+0000",
        }
        for i in range(n)
    ]


def _sf_contacts(n: int, accounts: int) -> list[dict[str, Any]]:
    return [
        {
            "attributes": {
                "type": "Contact",
                "url": f"/services/data/v59.0/sobjects/Contact/003{i:012d}",
            },
            "Id": f"003{i:012d}",
            "FirstName": f"First{i}",
            "LastName": f"Last{i}",
            "Email": f"contact{i}@example.com",
            "Title": ["CTO", "Buyer"][i % 2],
            "AccountId": f"001{i % accounts:012d}",
            "CreatedDate": "2024-01-06T00:00:00.000+0000",
            "SystemModstamp": f"2024-02-{1 + i % 28:02d}T00:00:00.000+0000",
        }
        for i in range(n)
    ]


def _users(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(234599484848000 + i),
            "emailAddress": f"rep{i}@example.com",
            "created": "2023-02-18T08:00:00Z",
            "active": True,
            "firstName": f"Rep{i}",
            "lastName": "Seller",
            "title": "Account Executive",
            "managerId": None,
            "settings": {"webConferencesRecorded": True},
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


def _calls(n: int, users: int) -> list[dict[str, Any]]:
    return [
        {
            "id": str(7000 + i),
            "url": f"https://app.gong.io/call?id={7000 + i}",
            "title": f"Discovery call {i}",
            "scheduled": f"2024-04-{1 + i % 28:02d}T09:00:00Z",
            "started": f"2024-04-{1 + i % 28:02d}T09:01:00Z",
            "duration": 600 + i,
            "primaryUserId": str(234599484848000 + i % users),
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
    few = max(size // 5, 1)
    hubspot = {
        "contacts": _contacts(size),
        "companies": _companies(few),
        "deals": _deals(size, few),
    }
    salesforce = {
        "Account": _accounts(size),
        "Opportunity": _opportunities(size, few),
        "Contact": _sf_contacts(size, few),
    }
    gong = {"calls": _calls(size, few), "users": _users(few)}

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

    def hubspot_rows(kind: str, associations: bool) -> list[dict[str, Any]]:
        out = []
        for row in hubspot[kind]:
            row = {k: v for k, v in row.items() if k != "company"}
            if kind == "deals" and associations:
                link = {"id": hubspot_company(row["id"]), "type": "deal_to_company"}
                row["associations"] = {"companies": {"results": [link]}}
            out.append(row)
        return out

    def hubspot_company(deal: str) -> str:
        return next(str(d["company"]) for d in hubspot["deals"] if d["id"] == deal)

    @app.get("/crm/v3/objects/{kind}")
    async def hubspot_list(
        request: Request, kind: str, limit: int = 10, after: str = "0", associations: str = ""
    ) -> Any:
        if not bearer(request):
            return JSONResponse({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
        if kind not in hubspot:
            return JSONResponse({"status": "error", "category": "OBJECT_NOT_FOUND"}, 404)
        if (failed := fault(request)) is not None:
            return failed
        rows = hubspot_rows(kind, associations == "companies")
        body = hubspot_page(rows, int(after), str(request.url.path))
        headers = dict(hubspot_headers)
        if faults.spend_window:  # this page uses the window's last call
            faults.spend_window = False
            headers |= {"X-HubSpot-RateLimit-Remaining": "0"}
            headers |= {"X-HubSpot-RateLimit-Interval-Milliseconds": "200"}
        return JSONResponse(body, headers=headers)

    @app.post("/crm/v3/objects/{kind}/search")
    async def hubspot_search(request: Request, kind: str) -> Any:
        if not bearer(request):
            return JSONResponse({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
        if (failed := fault(request)) is not None:
            return failed
        search = await request.json()
        (condition,) = search["filterGroups"][0]["filters"]
        modified = "lastmodifieddate" if kind == "contacts" else "hs_lastmodifieddate"
        if condition["propertyName"] != modified:  # HubSpot would match nothing: say so loudly
            return JSONResponse({"status": "error", "message": "unknown property"}, 400)
        millis = int(condition["value"])
        since = datetime.fromtimestamp(millis / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = sorted(
            (c for c in hubspot_rows(kind, False) if c["properties"][modified] >= since),
            key=lambda c: (c["properties"][modified], c["id"]),
        )
        body = hubspot_page(rows, int(search.get("after") or 0), str(request.url.path))
        return JSONResponse(body | {"total": len(rows)}, headers=hubspot_headers)

    @app.post("/crm/v4/associations/deals/companies/batch/read")
    async def hubspot_associations(request: Request) -> Any:
        if not bearer(request):
            return JSONResponse({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
        if (failed := fault(request)) is not None:
            return failed
        inputs = (await request.json())["inputs"]
        results = [
            {
                "from": {"id": i["id"]},
                "to": [
                    {
                        "toObjectId": int(hubspot_company(i["id"])),
                        "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": 5, "label": "Primary"}
                        ],
                    }
                ],
            }
            for i in inputs
        ]
        return JSONResponse({"status": "COMPLETE", "results": results}, headers=hubspot_headers)

    def salesforce_page(kind: str, start: int, query_id: str) -> dict[str, Any]:
        rows = salesforce[kind]
        chunk = rows[start : start + page_size]
        done = start + page_size >= len(rows)
        body: dict[str, Any] = {"totalSize": len(rows), "done": done, "records": chunk}
        if not done:
            locator = f"{query_id}{kind}-{start + page_size}"
            body["nextRecordsUrl"] = f"/services/data/v59.0/query/{locator}"
        return body

    def salesforce_fault(request: Request) -> JSONResponse | None:
        limit = faults.request_limit_after
        if limit is not None and faults.pages >= limit:
            faults.requests.append(f"{request.method} {request.url.path}?{request.url.query}")
            return JSONResponse(
                [
                    {
                        "message": "TotalRequests Limit exceeded.",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED",
                    }
                ],
                status_code=403,
                headers=sforce(request),
            )
        return fault(request)

    def sforce(request: Request) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={len(faults.requests)}/15000"}

    @app.get("/services/data/v59.0/query")
    async def salesforce_query(request: Request, q: str) -> Any:
        if not bearer(request):
            return JSONResponse(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], 401
            )
        if (failed := salesforce_fault(request)) is not None:
            return failed
        assert q.startswith("SELECT Id, SystemModstamp")
        kind = q.split(" FROM ", 1)[1].split(" ", 1)[0]
        if kind not in salesforce:
            error = {
                "message": f"sObject type '{kind}' is not supported.",
                "errorCode": "INVALID_TYPE",
            }
            return JSONResponse([error], 400)
        faults.queries.append(q)
        return JSONResponse(salesforce_page(kind, 0, "01gRM000000"), headers=sforce(request))

    @app.get("/services/data/v59.0/query/{locator}")
    async def salesforce_more(request: Request, locator: str) -> Any:
        if not bearer(request):
            return JSONResponse([{"message": "bad", "errorCode": "INVALID_SESSION_ID"}], 401)
        if (failed := salesforce_fault(request)) is not None:
            return failed
        head, _, start = locator.rpartition("-")
        query_id, kind = head[:11], head[11:]
        return JSONResponse(salesforce_page(kind, int(start), query_id), headers=sforce(request))

    @app.get("/v2/{kind}")
    async def gong_list(request: Request, kind: str, cursor: str | None = None) -> Any:
        pair = base64.b64encode(f"{GONG_KEY}:{GONG_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {pair}":
            return JSONResponse({"requestId": "r", "errors": ["Unauthorized"]}, 401)
        if kind not in gong:
            return JSONResponse({"requestId": "r", "errors": ["Not found"]}, 404)
        if (failed := fault(request)) is not None:
            return failed
        rows = gong[kind]
        start = int(cursor or 0)
        chunk = rows[start : start + page_size]
        records: dict[str, Any] = {
            "totalRecords": len(rows),
            "currentPageSize": len(chunk),
            "currentPageNumber": start // page_size,
        }
        if start + page_size < len(rows):
            records["cursor"] = str(start + page_size)
        return {"requestId": "4al018gzaztcr8nbukw", "records": records, kind: chunk}

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
