"""Business data connectors: records pulled from HubSpot, Salesforce and Gong into the ``crm``
database, where the BI analyst queries them through the ``sql`` tool (``--data crm``).

A :class:`DataConnector` fetches one stream page by page (each request under the connector
discipline of :class:`~ekklesia.connectors.resilience.Resilience`: a rate limit, a circuit breaker,
retries that honour ``Retry-After``; over one pooled httpx client) and writes each page into
SQLite (``$EKKLESIA_HOME/bi/crm.sqlite``, WAL, so the analyst reads while a sync writes) in one
transaction with the cursor of the next page. A record is upserted by its id, so a page read twice
duplicates nothing; a sync that fails midway leaves the cursor of the last page it stored and the
next sync resumes there. A finished sync clears the cursor and keeps a watermark (the latest
modification time seen), from which the next sync asks only for what changed (``since``).

=========== ======================================= ============================ ===============
connector   endpoint, pagination                    auth                         table
=========== ======================================= ============================ ===============
hubspot     GET /crm/v3/objects/contacts, ``after``  Bearer private app token     hubspot_contacts
            (POST .../search with lastmodifieddate
            >= since for incremental syncs)
salesforce  GET /services/data/v59.0/query?q=SOQL,   Bearer access token, the     salesforce_
            ``nextRecordsUrl``                       org's instance URL           accounts
gong        GET /v2/calls?fromDateTime, ``cursor``   Basic access key:secret      gong_calls
            in ``records``
=========== ======================================= ============================ ===============
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from ekklesia.bi.data import crm_database
from ekklesia.connectors.http import pooled_client
from ekklesia.connectors.resilience import (
    CircuitPolicy,
    EndpointLimits,
    Resilience,
    RetryPolicy,
    TransientError,
    error_for_status,
)
from ekklesia.connectors.secrets import redact, secret
from ekklesia.core.aio import run_sync
from ekklesia.errors import ConnectorError, UserError

__all__ = [
    "CONNECTORS",
    "DataConnector",
    "GongConnector",
    "HubSpotConnector",
    "Page",
    "SalesforceConnector",
    "SyncReport",
    "sync_connector",
]

Record = dict[str, Any]


class Page(BaseModel):
    records: list[Record]
    next_cursor: str | None


class SyncReport(BaseModel):
    """What one sync did: records stored, pages read, the errors that stopped it."""

    connector: str
    database: str
    tables: list[str]
    records: int = 0
    pages: int = 0
    errors: list[str] = []
    resumed_from: str | None = None
    cursor: str | None = None
    """Where the next sync resumes (``None``: this one finished)."""
    seconds: float = 0.0


def when(text: str, *, what: str = "--since") -> datetime:
    """An ISO 8601 date or time as an aware UTC datetime (a time without a zone is UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{what}: {text!r} is not an ISO 8601 date or time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _utc(text: str) -> str:
    """A vendor's timestamp in one sortable form, ``2024-03-01T12:00:00.000000Z``."""
    if not text:
        return ""
    try:
        return when(text, what="timestamp").strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except UserError:
        return text


def _need(name: str) -> str:
    value = secret(name)
    if not value:
        raise UserError(f"{name} is not set: run `ekklesia connect add` for this connector")
    return value


class DataConnector(ABC):
    """One stream of records from one system; see the module docstring."""

    name: ClassVar[str]
    table: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    """The record's fields stored as columns (besides ``id``, ``updated_at`` and ``raw``)."""
    default_base_url: ClassVar[str]

    def __init__(
        self,
        base_url: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        limits: EndpointLimits | None = None,
        circuit: CircuitPolicy | None = None,
        page_size: int = 100,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.page_size = page_size
        self.timeout_s = timeout_s
        self.pause_s = 0.0
        """Seconds to wait before the next request, as the vendor's rate-limit headers ask."""
        self.waited_s = 0.0
        self.limit_info: dict[str, str] = {}
        self.resilience = Resilience(
            f"{self.name}:{self.base_url}",
            retry=retry or RetryPolicy(),
            limits=limits or EndpointLimits(concurrency=4, requests_per_min=600),
            circuit=circuit,
        )

    # -- what a vendor defines ---------------------------------------------------------------

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """The auth headers (read from the secrets store)."""

    @abstractmethod
    async def fetch_page(
        self, client: httpx.AsyncClient, cursor: str | None, since: datetime | None
    ) -> Page:
        """One page of records after ``cursor`` (the first: ``None``), changed since ``since``."""

    @abstractmethod
    def row(self, record: Record) -> tuple[str, str, dict[str, Any]]:
        """A record's id, its modification time (ISO 8601) and its column values."""

    # -- HTTP ----------------------------------------------------------------------------------

    async def request(self, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> Any:
        """One request under the connector discipline; the decoded JSON body."""

        async def attempt() -> Any:
            if self.pause_s > 0:  # the vendor said its window is spent: wait it out first
                pause, self.pause_s = self.pause_s, 0.0
                self.waited_s += pause
                await asyncio.sleep(pause)
            try:
                response = await client.request(method, url, **kwargs)
            except httpx.TimeoutException as exc:
                raise TransientError(f"{self.name}: timed out", status=None) from exc
            except httpx.TransportError as exc:
                raise TransientError(f"{self.name}: {type(exc).__name__}", status=None) from exc
            if response.status_code >= 400:
                headers = dict(response.headers)
                raise error_for_status(
                    response.status_code,
                    self.retry_headers(headers),
                    redact(response.text[:300]),
                    where=self.name,
                )
            self.observe_limits(response.headers)
            return response.json()

        return await self.resilience.call(attempt)

    def retry_headers(self, headers: Mapping[str, str]) -> Mapping[str, str]:
        """The headers a retry reads its wait from (a vendor may say it in its own header)."""
        return headers

    def observe_limits(self, headers: httpx.Headers) -> None:
        """Read the vendor's rate-limit headers (kept on ``self.limit_info``)."""
        self.limit_info = {k: v for k, v in headers.items() if "limit" in k.lower()}

    # -- syncing -------------------------------------------------------------------------------

    async def sync(
        self, database: Path | None = None, *, since: str | None = None, full: bool = False
    ) -> SyncReport:
        """Pull the stream into ``database`` (default: the crm database); see the module doc."""
        path = database or crm_database()
        began = time.perf_counter()
        store = _Store(path)
        await asyncio.to_thread(store.prepare, self)
        cursor, watermark = await asyncio.to_thread(store.state, self.name)
        if full:
            cursor, watermark = None, None
        report = SyncReport(
            connector=self.name, database=str(path), tables=[self.table], resumed_from=cursor
        )
        asked = since or watermark
        asked_since = when(asked) if asked else None
        newest = watermark or ""
        client = pooled_client(timeout=self.timeout_s, max_connections=4, headers=self.headers())
        try:
            while True:
                try:
                    page = await self.fetch_page(client, cursor, asked_since)
                except ConnectorError as exc:
                    report.errors.append(redact(str(exc)))
                    break
                rows = [(rid, _utc(at), fields) for rid, at, fields in map(self.row, page.records)]
                newest = max([newest, *(updated for _, updated, _ in rows)])
                done = page.next_cursor is None
                await asyncio.to_thread(
                    store.write,
                    self,
                    rows,
                    page.records,
                    page.next_cursor,
                    newest if done else None,
                )
                report.records += len(rows)
                report.pages += 1
                cursor = page.next_cursor
                if done:
                    break
        finally:
            await client.aclose()
        report.cursor = cursor if report.errors else None
        report.seconds = time.perf_counter() - began
        return report


class _Store:
    """The crm SQLite file: one table per stream, and each stream's cursor and watermark."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30.0)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        return con

    def prepare(self, connector: DataConnector) -> None:
        columns = "".join(f', "{c}"' for c in connector.columns)
        with closing(self._connect()) as con, con:
            con.execute(
                f'CREATE TABLE IF NOT EXISTS "{connector.table}" '
                f'("id" TEXT PRIMARY KEY, "updated_at" TEXT{columns}, "raw" TEXT)'
            )
            con.execute(
                "CREATE TABLE IF NOT EXISTS _sync_state (connector TEXT PRIMARY KEY, "
                "cursor TEXT, watermark TEXT, synced_at REAL)"
            )

    def state(self, name: str) -> tuple[str | None, str | None]:
        with closing(self._connect()) as con:
            row = con.execute(
                "SELECT cursor, watermark FROM _sync_state WHERE connector = ?", (name,)
            ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def write(
        self,
        connector: DataConnector,
        rows: Sequence[tuple[str, str, dict[str, Any]]],
        records: Sequence[Record],
        cursor: str | None,
        watermark: str | None,
    ) -> None:
        names = ["id", "updated_at", *connector.columns, "raw"]
        marks = ", ".join("?" for _ in names)
        quoted = ", ".join(f'"{n}"' for n in names)
        values = [
            (rid, updated, *(_scalar(fields.get(c)) for c in connector.columns), json.dumps(raw))
            for (rid, updated, fields), raw in zip(rows, records, strict=True)
        ]
        with closing(self._connect()) as con, con:  # the page and its cursor: one transaction
            con.executemany(
                f'INSERT OR REPLACE INTO "{connector.table}" ({quoted}) VALUES ({marks})', values
            )
            if watermark is None:
                con.execute(
                    "INSERT INTO _sync_state (connector, cursor, synced_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(connector) DO UPDATE SET cursor = excluded.cursor, "
                    "synced_at = excluded.synced_at",
                    (connector.name, cursor, time.time()),
                )
            else:
                con.execute(
                    "INSERT INTO _sync_state VALUES (?, NULL, ?, ?) ON CONFLICT(connector) DO "
                    "UPDATE SET cursor = NULL, watermark = excluded.watermark, "
                    "synced_at = excluded.synced_at",
                    (connector.name, watermark, time.time()),
                )


def _scalar(value: object) -> object:
    if value is None or isinstance(value, str | int | float):
        return value
    return json.dumps(value)


# -- the vendors ------------------------------------------------------------------------------


class HubSpotConnector(DataConnector):
    """HubSpot CRM v3 contacts; a private app's token as a Bearer token."""

    name = "hubspot"
    table = "hubspot_contacts"
    columns = ("email", "firstname", "lastname", "company", "lifecyclestage", "createdate")
    default_base_url = "https://api.hubapi.com"
    _PATH = "/crm/v3/objects/contacts"

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

    async def fetch_page(
        self, client: httpx.AsyncClient, cursor: str | None, since: datetime | None
    ) -> Page:
        properties = ",".join((*self.columns, "lastmodifieddate"))
        if since is None:
            params: dict[str, str | int] = {"limit": self.page_size, "properties": properties}
            if cursor:
                params["after"] = cursor
            body = await self.request(client, "GET", self.base_url + self._PATH, params=params)
        else:
            search: dict[str, Any] = {
                "filterGroups": [
                    {
                        "filters": [
                            {
                                "propertyName": "lastmodifieddate",
                                "operator": "GTE",
                                "value": str(int(since.timestamp() * 1000)),  # ms since epoch
                            }
                        ]
                    }
                ],
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                "properties": properties.split(","),
                "limit": self.page_size,
            }
            if cursor:
                search["after"] = cursor
            url = f"{self.base_url}{self._PATH}/search"
            body = await self.request(client, "POST", url, json=search)
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        return Page(records=list(body.get("results") or []), next_cursor=after)

    def row(self, record: Record) -> tuple[str, str, dict[str, Any]]:
        props = record.get("properties") or {}
        updated = record.get("updatedAt") or props.get("lastmodifieddate") or ""
        return str(record["id"]), str(updated), {c: props.get(c) for c in self.columns}


class SalesforceConnector(DataConnector):
    """Salesforce accounts through the REST query resource (SOQL), at the org's instance URL."""

    name = "salesforce"
    table = "salesforce_accounts"
    columns = ("Name", "Industry", "AnnualRevenue", "NumberOfEmployees", "CreatedDate")
    default_base_url = ""
    version = "v59.0"

    def __init__(self, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url or _need("SALESFORCE_INSTANCE_URL"), **kwargs)

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {_need('SALESFORCE_ACCESS_TOKEN')}"}

    def observe_limits(self, headers: httpx.Headers) -> None:
        # Sforce-Limit-Info: api-usage=25/15000 — the org's API calls used today, of its allowance
        super().observe_limits(headers)
        used, _, allowed = headers.get("sforce-limit-info", "").partition("=")[2].partition("/")
        self.api_usage = (int(used), int(allowed)) if used.isdigit() and allowed.isdigit() else None

    async def fetch_page(
        self, client: httpx.AsyncClient, cursor: str | None, since: datetime | None
    ) -> Page:
        if cursor:
            body = await self.request(client, "GET", self.base_url + cursor)
        else:
            fields = ", ".join(("Id", "SystemModstamp", *self.columns))
            stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ") if since else ""
            where = f" WHERE SystemModstamp >= {stamp}" if since else ""
            soql = f"SELECT {fields} FROM Account{where} ORDER BY SystemModstamp"
            url = f"{self.base_url}/services/data/{self.version}/query"
            body = await self.request(client, "GET", url, params={"q": soql})
        following = None if body.get("done", True) else body.get("nextRecordsUrl")
        return Page(records=list(body.get("records") or []), next_cursor=following)

    def row(self, record: Record) -> tuple[str, str, dict[str, Any]]:
        fields = {c: record.get(c) for c in self.columns}
        return str(record["Id"]), str(record.get("SystemModstamp") or ""), fields


class GongConnector(DataConnector):
    """Gong calls (``/v2/calls``); the access key and its secret as HTTP Basic auth."""

    name = "gong"
    table = "gong_calls"
    columns = ("title", "started", "duration", "direction", "scope", "primaryUserId", "url")
    default_base_url = "https://api.gong.io"

    def headers(self) -> dict[str, str]:
        pair = f"{_need('GONG_ACCESS_KEY')}:{_need('GONG_ACCESS_KEY_SECRET')}"
        return {"authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    async def fetch_page(
        self, client: httpx.AsyncClient, cursor: str | None, since: datetime | None
    ) -> Page:
        params = {"fromDateTime": since.strftime("%Y-%m-%dT%H:%M:%SZ")} if since else {}
        if cursor:
            params["cursor"] = cursor
        body = await self.request(client, "GET", f"{self.base_url}/v2/calls", params=params)
        following = (body.get("records") or {}).get("cursor")
        return Page(records=list(body.get("calls") or []), next_cursor=following or None)

    def row(self, record: Record) -> tuple[str, str, dict[str, Any]]:
        fields = {c: record.get(c) for c in self.columns}
        return str(record["id"]), str(record.get("started") or ""), fields


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
) -> SyncReport:
    """Run connector ``name``'s sync (``ekklesia connect sync NAME``)."""
    found = CONNECTORS.get(name.lower())
    if found is None:
        raise UserError(f"no data connector {name!r} (known: {', '.join(CONNECTORS)})")
    connector = found(base_url)
    return run_sync(
        connector.sync(database, since=since, full=full), "sync_connector()", "await .sync()"
    )
