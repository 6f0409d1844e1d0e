"""Syncing a data connector's object types into the ``crm`` database, page by page, resumable.

A :class:`DataConnector` (the vendors are in :mod:`ekklesia.bi.connectors`) names its object
types (:class:`ObjectType`: HubSpot's contacts, companies and deals, say), each synced into a table
of its own so the BI analyst can join them. Each object type is fetched page by page (each request
under the connector discipline of :class:`~ekklesia.connectors.resilience.Resilience`: a rate
limit, a circuit breaker, retries that honour ``Retry-After``; over one pooled httpx client) and
each page is written into SQLite (``$EKKLESIA_HOME/bi/crm.sqlite``, WAL, so the analyst reads while
a sync writes) in one transaction with the cursor of the next page, kept per object type. A record
is upserted by its id, so a page read twice duplicates nothing; a sync that fails midway leaves
the cursor of the last page it stored, and the next sync resumes that object type there, then goes
on with the ones not yet synced. A finished object type clears its cursor and keeps a watermark
(the latest modification time seen), from which the next sync asks only for what changed.

A sync stops at the first error: the object types after it keep their state for the next sync.
When the vendor says the allowance of its period is spent (:class:`AllowanceSpent`: Salesforce's
``REQUEST_LIMIT_EXCEEDED``), the sync stops at once without retrying, its cursor saved, and its
report says ``rate_limited`` rather than listing an error: running it again later resumes it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
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
from ekklesia.connectors.secrets import redact
from ekklesia.errors import ConnectorError, PermanentError, UserError

__all__ = [
    "AllowanceSpent",
    "DataConnector",
    "ObjectSync",
    "ObjectType",
    "Page",
    "Record",
    "SyncReport",
    "when",
]

Record = dict[str, Any]


class AllowanceSpent(PermanentError):
    """The vendor's allowance of API calls for its period is spent: no try helps until it resets.

    Not retried and not counted against the endpoint's breaker (as a :class:`PermanentError`);
    a sync that meets it stops cleanly, rate limited, and resumes later from its cursor.
    """


@dataclass(frozen=True)
class ObjectType:
    """One object type of a connector: its name, its table, its fields stored as columns."""

    name: str
    table: str
    columns: tuple[str, ...]
    """The record's fields stored as columns (besides ``id``, ``updated_at`` and ``raw``)."""


class Page(BaseModel):
    records: list[Record]
    next_cursor: str | None


class ObjectSync(BaseModel):
    """What one sync did for one object type."""

    object: str
    table: str
    records: int = 0
    pages: int = 0
    errors: list[str] = []
    rate_limited: bool = False
    resumed_from: str | None = None
    cursor: str | None = None
    """Where the next sync resumes this object type (``None``: this one finished it)."""
    done: bool = False


class SyncReport(BaseModel):
    """What one sync did: records stored, pages read, the errors that stopped it; in total and
    per object type (``objects``). ``rate_limited``: the vendor's allowance stopped it, cursor
    saved (``limit``: what the vendor said)."""

    connector: str
    database: str
    tables: list[str]
    records: int = 0
    pages: int = 0
    errors: list[str] = []
    resumed_from: str | None = None
    cursor: str | None = None
    """Where the next sync resumes the first object type left unfinished (``None``: all done)."""
    seconds: float = 0.0
    objects: list[ObjectSync] = []
    rate_limited: bool = False
    limit: str | None = None


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


class DataConnector(ABC):
    """The object types of one system; see the module docstring."""

    name: ClassVar[str]
    objects: ClassVar[tuple[ObjectType, ...]]
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
        self.limit_message: str | None = None
        """What the vendor said when it refused for a spent allowance."""
        self.resilience = Resilience(
            f"{self.name}:{self.base_url}",
            retry=retry or RetryPolicy(),
            limits=limits or EndpointLimits(concurrency=4, requests_per_min=600),
            circuit=circuit,
        )

    @classmethod
    def object_type(cls, name: str) -> ObjectType:
        """The object type called ``name`` (``--object``); a one-line error naming the known."""
        for kind in cls.objects:
            if kind.name.lower() == name.lower():
                return kind
        known = ", ".join(k.name for k in cls.objects)
        raise UserError(f"--object: {cls.name} has no object type {name!r} (known: {known})")

    # -- what a vendor defines ---------------------------------------------------------------

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """The auth headers (read from the secrets store)."""

    @abstractmethod
    async def fetch_page(
        self,
        client: httpx.AsyncClient,
        kind: ObjectType,
        cursor: str | None,
        since: datetime | None,
    ) -> Page:
        """One page of ``kind`` after ``cursor`` (the first: ``None``), changed since ``since``."""

    @abstractmethod
    def row(self, kind: ObjectType, record: Record) -> tuple[str, str, dict[str, Any]]:
        """A record's id, its modification time (ISO 8601) and its column values."""

    def refusal(self, status: int, headers: Mapping[str, str], body: str) -> ConnectorError:
        """The error for an answer of ``status`` >= 400 (a vendor may tell its own apart)."""
        detail = redact(body[:300])
        return error_for_status(status, self.retry_headers(headers), detail, where=self.name)

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
                raise self.refusal(response.status_code, dict(response.headers), response.text)
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
        self,
        database: Path | None = None,
        *,
        since: str | None = None,
        full: bool = False,
        objects: Sequence[str] | None = None,
    ) -> SyncReport:
        """Pull the object types (default: all) into ``database`` (default: the crm database)."""
        kinds = [self.object_type(n) for n in objects] if objects else list(self.objects)
        asked_since = when(since) if since else None
        path = database or crm_database()
        began = time.perf_counter()
        store = _Store(path)
        await asyncio.to_thread(store.prepare, self, kinds)
        report = SyncReport(
            connector=self.name, database=str(path), tables=[k.table for k in kinds]
        )
        client = pooled_client(timeout=self.timeout_s, max_connections=4, headers=self.headers())
        try:
            for kind in kinds:
                done = await self._sync_object(client, store, kind, asked_since, full)
                report.objects.append(done)
                if not done.done:
                    break  # the vendor is refusing: leave the rest for the next sync
        finally:
            await client.aclose()
        for done in report.objects:
            report.records += done.records
            report.pages += done.pages
            report.errors += [f"{done.object}: {e}" for e in done.errors]
            report.resumed_from = report.resumed_from or done.resumed_from
            report.cursor = report.cursor or done.cursor
            if done.rate_limited:
                report.rate_limited = True
                report.limit = self.limit_message
        report.seconds = time.perf_counter() - began
        return report

    async def _sync_object(
        self,
        client: httpx.AsyncClient,
        store: _Store,
        kind: ObjectType,
        since: datetime | None,
        full: bool,
    ) -> ObjectSync:
        cursor, watermark = await asyncio.to_thread(store.state, self, kind)
        if full:
            cursor, watermark = None, None
        done = ObjectSync(object=kind.name, table=kind.table, resumed_from=cursor)
        asked = since or (when(watermark, what="watermark") if watermark else None)
        newest = watermark or ""
        while True:
            try:
                page = await self.fetch_page(client, kind, cursor, asked)
            except AllowanceSpent as exc:
                done.rate_limited = True
                self.limit_message = redact(str(exc))
                break
            except ConnectorError as exc:
                done.errors.append(redact(str(exc)))
                break
            rows = [(rid, _utc(at), f) for rid, at, f in (self.row(kind, r) for r in page.records)]
            newest = max([newest, *(updated for _, updated, _ in rows)])
            finished = page.next_cursor is None
            await asyncio.to_thread(
                store.write,
                self,
                kind,
                rows,
                page.records,
                page.next_cursor,
                newest if finished else None,
            )
            done.records += len(rows)
            done.pages += 1
            cursor = page.next_cursor
            if finished:
                done.done = True
                break
        done.cursor = None if done.done else cursor
        return done


class _Store:
    """The crm SQLite file: one table per object type, and each one's cursor and watermark."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30.0)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        return con

    @staticmethod
    def key(connector: DataConnector, kind: ObjectType) -> str:
        return f"{connector.name}.{kind.name}"

    def prepare(self, connector: DataConnector, kinds: Sequence[ObjectType]) -> None:
        with closing(self._connect()) as con, con:
            for kind in kinds:
                columns = "".join(f', "{c}"' for c in kind.columns)
                con.execute(
                    f'CREATE TABLE IF NOT EXISTS "{kind.table}" '
                    f'("id" TEXT PRIMARY KEY, "updated_at" TEXT{columns}, "raw" TEXT)'
                )
            con.execute(
                "CREATE TABLE IF NOT EXISTS _sync_state (connector TEXT PRIMARY KEY, "
                "cursor TEXT, watermark TEXT, synced_at REAL)"
            )

    def state(self, connector: DataConnector, kind: ObjectType) -> tuple[str | None, str | None]:
        # a database written when each connector synced one object type kept it under its name
        names = [self.key(connector, kind)]
        if kind is connector.objects[0]:
            names.append(connector.name)
        with closing(self._connect()) as con:
            for name in names:
                row = con.execute(
                    "SELECT cursor, watermark FROM _sync_state WHERE connector = ?", (name,)
                ).fetchone()
                if row:
                    return row[0], row[1]
        return None, None

    def write(
        self,
        connector: DataConnector,
        kind: ObjectType,
        rows: Sequence[tuple[str, str, dict[str, Any]]],
        records: Sequence[Record],
        cursor: str | None,
        watermark: str | None,
    ) -> None:
        names = ["id", "updated_at", *kind.columns, "raw"]
        marks = ", ".join("?" for _ in names)
        quoted = ", ".join(f'"{n}"' for n in names)
        values = [
            (rid, updated, *(_scalar(fields.get(c)) for c in kind.columns), json.dumps(raw))
            for (rid, updated, fields), raw in zip(rows, records, strict=True)
        ]
        key = self.key(connector, kind)
        with closing(self._connect()) as con, con:  # the page and its cursor: one transaction
            con.executemany(
                f'INSERT OR REPLACE INTO "{kind.table}" ({quoted}) VALUES ({marks})', values
            )
            if watermark is None:
                con.execute(
                    "INSERT INTO _sync_state (connector, cursor, synced_at) VALUES (?, ?, ?) "
                    "ON CONFLICT(connector) DO UPDATE SET cursor = excluded.cursor, "
                    "synced_at = excluded.synced_at",
                    (key, cursor, time.time()),
                )
            else:
                con.execute(
                    "INSERT INTO _sync_state VALUES (?, NULL, ?, ?) ON CONFLICT(connector) DO "
                    "UPDATE SET cursor = NULL, watermark = excluded.watermark, "
                    "synced_at = excluded.synced_at",
                    (key, watermark, time.time()),
                )


def _scalar(value: object) -> object:
    if value is None or isinstance(value, str | int | float):
        return value
    return json.dumps(value)
