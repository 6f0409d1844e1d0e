"""HubSpot, Salesforce and Gong connectors against a local server in their documented shapes:
pagination, auth, 429 with Retry-After, a sync that fails midway and resumes without duplicates,
and the synced records queried by the BI analyst's sql tool."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from data_servers import GONG_KEY, GONG_SECRET, TOKEN, DataServer, data_server

from ekklesia.bi.connectors import (
    GongConnector,
    HubSpotConnector,
    SalesforceConnector,
    sync_connector,
)
from ekklesia.bi.data import crm_database, database
from ekklesia.connectors.resilience import RetryPolicy
from ekklesia.connectors.secrets import store_secret
from ekklesia.errors import UserError
from ekklesia.tools.sql import query

FAST = RetryPolicy(attempts=3, initial_s=0.0, max_s=0.01, jitter_s=0.0)


@pytest.fixture
def server() -> Iterator[DataServer]:
    with data_server(size=250, page_size=50) as running:
        yield running


@pytest.fixture(autouse=True)
def credentials(server: DataServer) -> None:
    store_secret("HUBSPOT_ACCESS_TOKEN", TOKEN)
    store_secret("SALESFORCE_ACCESS_TOKEN", TOKEN)
    store_secret("SALESFORCE_INSTANCE_URL", server.url)
    store_secret("GONG_ACCESS_KEY", GONG_KEY)
    store_secret("GONG_ACCESS_KEY_SECRET", GONG_SECRET)


def count(table: str) -> tuple[int, int]:
    with sqlite3.connect(crm_database()) as con:
        row = con.execute(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {table}").fetchone()
    return int(row[0]), int(row[1])


@pytest.mark.parametrize(
    ("connector", "table"),
    [
        (HubSpotConnector, "hubspot_contacts"),
        (SalesforceConnector, "salesforce_accounts"),
        (GongConnector, "gong_calls"),
    ],
)
def test_each_connector_pages_through_everything_past_a_429(
    server: DataServer, connector: type, table: str
) -> None:
    server.faults.rate_limit_first = True
    report = asyncio.run(connector(server.url, retry=FAST).sync())
    assert report.errors == [] and report.records == 250 and report.pages == 5
    assert report.cursor is None and report.tables == [table]
    assert count(table) == (250, 250)
    assert len(server.faults.requests) == 6  # the 429, then five pages


def test_a_sync_that_fails_midway_resumes_from_its_cursor_without_duplicates(
    server: DataServer,
) -> None:
    server.faults.fail_after_pages = 2
    first = asyncio.run(HubSpotConnector(server.url, retry=FAST).sync())
    assert first.records == 100 and first.errors and "503" in first.errors[0]
    assert first.cursor == "100" and count("hubspot_contacts") == (100, 100)
    server.faults.fail_after_pages = None
    server.faults.requests.clear()
    second = asyncio.run(HubSpotConnector(server.url, retry=FAST).sync())
    assert second.resumed_from == "100" and second.errors == [] and second.records == 150
    assert "after=100" in server.faults.requests[0]
    assert count("hubspot_contacts") == (250, 250)
    # the next sync asks only for what changed since the newest record it stored
    server.faults.requests.clear()
    third = asyncio.run(HubSpotConnector(server.url, retry=FAST).sync())
    assert server.faults.requests[0].startswith("POST /crm/v3/objects/contacts/search")
    assert third.records < 250 and count("hubspot_contacts") == (250, 250)


def test_synced_records_are_queried_by_the_sql_tool(server: DataServer) -> None:
    report = sync_connector("salesforce", base_url=server.url)
    assert report.records == 250
    crm = database("crm")
    result = asyncio.run(
        query(crm, "SELECT Industry, COUNT(*) FROM salesforce_accounts GROUP BY 1 ORDER BY 1")
    )
    assert result.rows == [("Energy", 125), ("Retail", 125)]


def test_a_bad_token_is_a_permanent_error_naming_no_secret(server: DataServer) -> None:
    store_secret("GONG_ACCESS_KEY_SECRET", "wrong-secret-value-123")
    report = asyncio.run(GongConnector(server.url, retry=FAST).sync())
    assert report.records == 0 and "401" in report.errors[0]
    assert "wrong-secret-value-123" not in report.model_dump_json()


def test_the_crm_file_is_where_bi_looks(tmp_path: Path, server: DataServer) -> None:
    asyncio.run(GongConnector(server.url).sync(tmp_path / "other.sqlite"))
    assert (tmp_path / "other.sqlite").exists() and not crm_database().exists()


def test_since_is_sent_in_each_vendors_form(server: DataServer) -> None:
    report = sync_connector("salesforce", base_url=server.url, since="2024-02-10")
    assert report.errors == []
    assert "WHERE SystemModstamp >= 2024-02-10T00:00:00Z ORDER BY" in server.faults.queries[0]
    server.faults.requests.clear()
    asyncio.run(GongConnector(server.url).sync(since="2024-04-02T10:00:00+02:00"))
    assert server.faults.requests[0] == "GET /v2/calls?fromDateTime=2024-04-02T08:00:00Z"
    with pytest.raises(UserError, match="--since: 'yesterday' is not an ISO 8601 date"):
        sync_connector("gong", base_url=server.url, since="yesterday")


def test_hubspot_waits_out_a_spent_rate_limit_window(server: DataServer) -> None:
    server.faults.spend_window = True
    connector = HubSpotConnector(server.url, retry=FAST)
    report = asyncio.run(connector.sync())
    assert report.records == 250 and report.errors == []
    assert connector.waited_s == pytest.approx(0.2)  # the interval its headers named, once
    assert connector.limit_info["x-hubspot-ratelimit-daily-remaining"] == "249000"
