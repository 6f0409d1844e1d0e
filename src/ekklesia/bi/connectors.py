"""Business data connectors: records pulled from HubSpot, Salesforce and Gong into the ``crm``
database, where the BI analyst queries them through the ``sql`` tool (``--data crm``).

Each vendor's object types sync into tables of their own (:mod:`ekklesia.bi.sync` says how: page
by page, resumable per object type, no duplicates), so the analyst can join them — deals per
company, opportunities per account, calls per user:

- **hubspot** (a private app's token, Bearer): ``contacts``, ``companies``, ``deals`` into
  ``hubspot_contacts``, ``hubspot_companies``, ``hubspot_deals``; ``GET /crm/v3/objects/{type}``
  paged by ``after``; incremental: ``POST /crm/v3/objects/{type}/search`` on
  ``lastmodifieddate`` (contacts) or ``hs_lastmodifieddate`` (the others) >= since. A deal's
  ``company_id`` is its first associated company (``associations=companies`` on the list; the v4
  batch read ``/crm/v4/associations/deals/companies/batch/read`` after a search, whose answers
  carry none): ``hubspot_deals.company_id = hubspot_companies.id``.
- **salesforce** (an access token, Bearer, at the org's instance URL): ``Account``,
  ``Opportunity``, ``Contact`` into ``salesforce_accounts``, ``salesforce_opportunities``,
  ``salesforce_contacts``; ``GET /services/data/v59.0/query?q=SOQL`` paged by
  ``nextRecordsUrl``; incremental: ``WHERE SystemModstamp >= since`` (the stamp Salesforce
  advises for replication: indexed, and moved by system changes ``LastModifiedDate`` misses).
  ``AccountId`` joins ``salesforce_accounts.Id``.
- **gong** (access key and secret, Basic): ``calls``, ``users`` into ``gong_calls``,
  ``gong_users``; ``GET /v2/calls?fromDateTime`` and ``GET /v2/users`` (listed whole: it takes
  no time filter), both paged by ``records.cursor``. ``gong_calls.primaryUserId = gong_users.id``.

Rate limits: HubSpot's ``X-HubSpot-RateLimit-*`` headers (a spent window is waited out; a 429
without ``Retry-After`` waits the window); Salesforce's ``Sforce-Limit-Info`` (the org's calls
used today) and its ``403 REQUEST_LIMIT_EXCEEDED`` — the org's allowance is spent, so the sync
stops rate limited with its cursor saved (:class:`~ekklesia.bi.sync.AllowanceSpent`), to resume
once the allowance resets; every vendor's 429 with ``Retry-After`` is retried after the wait.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from ekklesia.bi.sync import (
    AllowanceSpent,
    DataConnector,
    ObjectSync,
    ObjectType,
    Page,
    Record,
    SyncReport,
)
from ekklesia.connectors.secrets import redact, secret
from ekklesia.core.aio import run_sync
from ekklesia.errors import ConnectorError, UserError

__all__ = [
    "CONNECTORS",
    "AllowanceSpent",
    "DataConnector",
    "GongConnector",
    "HubSpotConnector",
    "ObjectSync",
    "ObjectType",
    "Page",
    "SalesforceConnector",
    "SyncReport",
    "sync_connector",
]


def _need(name: str) -> str:
    value = secret(name)
    if not value:
        raise UserError(f"{name} is not set: run `ekklesia connect add` for this connector")
    return value


class HubSpotConnector(DataConnector):
    """HubSpot CRM v3 contacts, companies and deals; a private app's token as a Bearer token."""

    name = "hubspot"
    objects = (
        ObjectType(
            "contacts",
            "hubspot_contacts",
            ("email", "firstname", "lastname", "company", "lifecyclestage", "createdate"),
        ),
        ObjectType(
            "companies",
            "hubspot_companies",
            ("name", "domain", "industry", "city", "numberofemployees", "annualrevenue"),
        ),
        ObjectType(
            "deals",
            "hubspot_deals",
            ("dealname", "amount", "dealstage", "pipeline", "closedate", "company_id"),
        ),
    )
    default_base_url = "https://api.hubapi.com"

    @staticmethod
    def modified(kind: ObjectType) -> str:
        """The property holding the modification time: contacts keep their own name for it."""
        return "lastmodifieddate" if kind.name == "contacts" else "hs_lastmodifieddate"

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {_need('HUBSPOT_ACCESS_TOKEN')}"}

    def observe_limits(self, headers: httpx.Headers) -> None:
        # X-HubSpot-RateLimit-Remaining: 0 — this window is spent; the next call waits for it
        super().observe_limits(headers)
        remaining = headers.get("x-hubspot-ratelimit-remaining")
        interval = headers.get("x-hubspot-ratelimit-interval-milliseconds", "")
        if remaining == "0" and interval.isdigit():
            self.pause_s = int(interval) / 1000

    def retry_headers(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        # HubSpot says how long its window is; a 429 without Retry-After waits for the window
        lowered = {k.lower(): v for k, v in headers.items()}
        interval = lowered.get("x-hubspot-ratelimit-interval-milliseconds")
        if "retry-after" not in lowered and interval:
            return {**headers, "retry-after-ms": interval}
        return headers

    def _properties(self, kind: ObjectType) -> list[str]:
        return [c for c in kind.columns if c != "company_id"] + [self.modified(kind)]

    async def fetch_page(
        self,
        client: httpx.AsyncClient,
        kind: ObjectType,
        cursor: str | None,
        since: datetime | None,
    ) -> Page:
        path = f"{self.base_url}/crm/v3/objects/{kind.name}"
        properties = self._properties(kind)
        if since is None:
            params: dict[str, str | int] = {"limit": self.page_size}
            params["properties"] = ",".join(properties)
            if kind.name == "deals":
                params["associations"] = "companies"
            if cursor:
                params["after"] = cursor
            body = await self.request(client, "GET", path, params=params)
            results = list(body.get("results") or [])
        else:
            modified = self.modified(kind)
            search: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": modified,
                                "operator": "GTE",
                                "value": str(int(since.timestamp() * 1000)),  # ms since epoch
                            }
                        ]
                    }
                ],
                "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                "properties": properties,
                "limit": self.page_size,
            }
            if cursor:
                search["after"] = cursor
            body = await self.request(client, "POST", f"{path}/search", json=search)
            results = list(body.get("results") or [])
            if kind.name == "deals" and results:  # search answers carry no associations
                await self._associate(client, results)
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        return Page(records=results, next_cursor=after)

    async def _associate(self, client: httpx.AsyncClient, deals: list[Record]) -> None:
        """Each deal's companies, by the v4 associations batch read, in the list's own shape."""
        url = f"{self.base_url}/crm/v4/associations/deals/companies/batch/read"
        inputs = [{"id": str(d["id"])} for d in deals]
        body = await self.request(client, "POST", url, json={"inputs": inputs})
        found = {
            str(r["from"]["id"]): [str(t["toObjectId"]) for t in r.get("to") or []]
            for r in body.get("results") or []
        }
        for deal in deals:
            companies = found.get(str(deal["id"]), [])
            deal["associations"] = {"companies": {"results": [{"id": c} for c in companies]}}

    def row(self, kind: ObjectType, record: Record) -> tuple[str, str, dict[str, Any]]:
        props = record.get("properties") or {}
        updated = record.get("updatedAt") or props.get(self.modified(kind)) or ""
        fields = {c: props.get(c) for c in kind.columns}
        if kind.name == "deals":
            linked = ((record.get("associations") or {}).get("companies") or {}).get("results")
            fields["company_id"] = str(linked[0]["id"]) if linked else None
        return str(record["id"]), str(updated), fields


class SalesforceConnector(DataConnector):
    """Salesforce accounts, opportunities and contacts through the REST query resource (SOQL),
    at the org's instance URL."""

    name = "salesforce"
    objects = (
        ObjectType(
            "Account",
            "salesforce_accounts",
            ("Name", "Industry", "AnnualRevenue", "NumberOfEmployees", "CreatedDate"),
        ),
        ObjectType(
            "Opportunity",
            "salesforce_opportunities",
            ("Name", "AccountId", "StageName", "Amount", "CloseDate", "IsWon", "CreatedDate"),
        ),
        ObjectType(
            "Contact",
            "salesforce_contacts",
            ("FirstName", "LastName", "Email", "Title", "AccountId", "CreatedDate"),
        ),
    )
    default_base_url = ""
    version = "v59.0"

    def __init__(self, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url or _need("SALESFORCE_INSTANCE_URL"), **kwargs)
        self.api_usage: tuple[int, int] | None = None

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {_need('SALESFORCE_ACCESS_TOKEN')}"}

    def observe_limits(self, headers: httpx.Headers) -> None:
        # Sforce-Limit-Info: api-usage=25/15000 — the org's API calls used today, of its allowance
        super().observe_limits(headers)
        used, _, allowed = headers.get("sforce-limit-info", "").partition("=")[2].partition("/")
        self.api_usage = (int(used), int(allowed)) if used.isdigit() and allowed.isdigit() else None

    def refusal(self, status: int, headers: Mapping[str, str], body: str) -> ConnectorError:
        # 403 [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]: the org's calls for the day are spent
        if status == 403 and "REQUEST_LIMIT_EXCEEDED" in _error_codes(body):
            messages = "; ".join(_error_messages(body)) or "REQUEST_LIMIT_EXCEEDED"
            return AllowanceSpent(
                f"salesforce: the org's API request limit is spent ({redact(messages)[:200]}); "
                "the sync stopped with its cursor saved: run it again once the limit resets",
                status=status,
            )
        return super().refusal(status, headers, body)

    async def fetch_page(
        self,
        client: httpx.AsyncClient,
        kind: ObjectType,
        cursor: str | None,
        since: datetime | None,
    ) -> Page:
        if cursor:
            body = await self.request(client, "GET", self.base_url + cursor)
        else:
            fields = ", ".join(("Id", "SystemModstamp", *kind.columns))
            stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ") if since else ""
            where = f" WHERE SystemModstamp >= {stamp}" if since else ""
            soql = f"SELECT {fields} FROM {kind.name}{where} ORDER BY SystemModstamp"
            url = f"{self.base_url}/services/data/{self.version}/query"
            body = await self.request(client, "GET", url, params={"q": soql})
        following = None if body.get("done", True) else body.get("nextRecordsUrl")
        return Page(records=list(body.get("records") or []), next_cursor=following)

    def row(self, kind: ObjectType, record: Record) -> tuple[str, str, dict[str, Any]]:
        fields = {c: record.get(c) for c in kind.columns}
        return str(record["Id"]), str(record.get("SystemModstamp") or ""), fields


def _errors(body: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    return [e for e in parsed if isinstance(e, dict)] if isinstance(parsed, list) else []


def _error_codes(body: str) -> list[str]:
    return [str(e.get("errorCode")) for e in _errors(body)]


def _error_messages(body: str) -> list[str]:
    return [str(e.get("message")) for e in _errors(body) if e.get("message")]


class GongConnector(DataConnector):
    """Gong calls and users; the access key and its secret as HTTP Basic auth."""

    name = "gong"
    objects = (
        ObjectType(
            "calls",
            "gong_calls",
            ("title", "started", "duration", "direction", "scope", "primaryUserId", "url"),
        ),
        ObjectType(
            "users",
            "gong_users",
            ("emailAddress", "firstName", "lastName", "title", "active", "managerId", "created"),
        ),
    )
    default_base_url = "https://api.gong.io"

    def headers(self) -> dict[str, str]:
        pair = f"{_need('GONG_ACCESS_KEY')}:{_need('GONG_ACCESS_KEY_SECRET')}"
        return {"authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    async def fetch_page(
        self,
        client: httpx.AsyncClient,
        kind: ObjectType,
        cursor: str | None,
        since: datetime | None,
    ) -> Page:
        params: dict[str, str] = {}
        if kind.name == "calls" and since:  # users take no time filter: they are listed whole
            params["fromDateTime"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        if cursor:
            params["cursor"] = cursor
        body = await self.request(client, "GET", f"{self.base_url}/v2/{kind.name}", params=params)
        following = (body.get("records") or {}).get("cursor")
        return Page(records=list(body.get(kind.name) or []), next_cursor=following or None)

    def row(self, kind: ObjectType, record: Record) -> tuple[str, str, dict[str, Any]]:
        fields = {c: record.get(c) for c in kind.columns}
        updated = record.get("started") if kind.name == "calls" else record.get("created")
        return str(record["id"]), str(updated or ""), fields


CONNECTORS: dict[str, type[DataConnector]] = {
    c.name: c for c in (HubSpotConnector, SalesforceConnector, GongConnector)
}


def sync_connector(
    name: str,
    *,
    since: str | None = None,
    full: bool = False,
    base_url: str | None = None,
    database: Path | None = None,
    objects: Sequence[str] | None = None,
) -> SyncReport:
    """Run connector ``name``'s sync (``ekklesia connect sync NAME [--object TYPE]``)."""
    found = CONNECTORS.get(name.lower())
    if found is None:
        raise UserError(f"no data connector {name!r} (known: {', '.join(CONNECTORS)})")
    for kind in objects or ():
        found.object_type(kind)  # an unknown type is refused before any credential is read
    connector = found(base_url)
    return run_sync(
        connector.sync(database, since=since, full=full, objects=objects),
        "sync_connector()",
        "await .sync()",
    )
