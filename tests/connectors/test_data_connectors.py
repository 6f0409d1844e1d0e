"""HubSpot, Salesforce and Gong connectors against a local server in their documented shapes:
pagination, auth, 429 with Retry-After, every object type of a vendor in a table of its own
(joined by the sql tool), a sync that fails midway and resumes per object type without duplicates,
and Salesforce's spent request limit stopping a sync cleanly, to resume later."""

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
    ("connector", "kind", "table"),
    [
        (HubSpotConnector, "contacts", "hubspot_contacts"),
        (SalesforceConnector, "Account", "salesforce_accounts"),
        (GongConnector, "calls", "gong_calls"),
    ],
)
def test_each_connector_pages_through_everything_past_a_429(
    server: DataServer, connector: type, kind: str, table: str
) -> None:
    server.faults.rate_limit_first = True
    report = asyncio.run(connector(server.url, retry=FAST).sync(objects=[kind]))
    assert report.errors == [] and report.records == 250 and report.pages == 5
    assert report.cursor is None and report.tables == [table]
    assert [o.object for o in report.objects] == [kind]
    assert count(table) == (250, 250)
    assert len(server.faults.requests) == 6  # the 429, then five pages


JOINS = {
    "hubspot": (
        ["hubspot_contacts", "hubspot_companies", "hubspot_deals"],
        "SELECT c.name, COUNT(*) FROM hubspot_deals d JOIN hubspot_companies c "
        "ON d.company_id = c.id GROUP BY c.name ORDER BY 2 DESC, 1 LIMIT 1",
        ("Company 0", 5),
    ),
    "salesforce": (
        ["salesforce_accounts", "salesforce_opportunities", "salesforce_contacts"],
        "SELECT a.Name, COUNT(*) FROM salesforce_opportunities o JOIN salesforce_accounts a "
        "ON o.AccountId = a.Id GROUP BY a.Name ORDER BY 2 DESC, 1 LIMIT 1",
        ("Account 0", 5),
    ),
    "gong": (
        ["gong_calls", "gong_users"],
        "SELECT u.emailAddress, COUNT(*) FROM gong_calls c JOIN gong_users u "
        "ON c.primaryUserId = u.id GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
        ("rep0@example.com", 5),
    ),
}


@pytest.mark.parametrize("name", sorted(JOINS))
def test_every_object_type_is_a_table_the_analyst_can_join(server: DataServer, name: str) -> None:
    tables, sql, top = JOINS[name]
    report = sync_connector(name, base_url=server.url)
    assert report.errors == [] and report.cursor is None and not report.rate_limited
    assert report.tables == tables and [o.table for o in report.objects] == tables
    assert all(o.done for o in report.objects)
    sizes = {o.table: o.records for o in report.objects}
    assert report.records == sum(sizes.values())
    for table, records in sizes.items():
        assert count(table) == (records, records)
    result = asyncio.run(query(database("crm"), sql))
    assert result.rows == [top]
    # a second sync asks each object type only for what changed, and duplicates nothing
    server.faults.requests.clear()
    again = sync_connector(name, base_url=server.url)
    assert again.errors == [] and all(count(t) == (sizes[t], sizes[t]) for t in tables)
    asked = [r.split("?")[0] for r in server.faults.requests]
    if name == "hubspot":  # each type searched on its own modification property (the server checks)
        assert asked[:3] == [
            f"POST /crm/v3/objects/{t}/search" for t in ("contacts", "companies", "deals")
        ]


def test_one_object_type_is_synced_alone_and_an_unknown_one_refused(server: DataServer) -> None:
    report = sync_connector("hubspot", base_url=server.url, objects=["deals"])
    assert report.tables == ["hubspot_deals"] and report.records == 250
    with sqlite3.connect(crm_database()) as con:
        linked = con.execute("SELECT COUNT(*) FROM hubspot_deals WHERE company_id IS NOT NULL")
        assert linked.fetchone()[0] == 250
    with pytest.raises(UserError, match="--object: hubspot has no object type 'tickets'"):
        sync_connector("hubspot", base_url=server.url, objects=["tickets"])


def test_an_incremental_deal_sync_links_each_deal_to_its_company(server: DataServer) -> None:
    report = sync_connector("hubspot", base_url=server.url, objects=["deals"], since="2024-03-20")
    assert report.errors == [] and 0 < report.records < 250
    assert any(
        "/crm/v4/associations/deals/companies/batch/read" in r for r in server.faults.requests
    )
    with sqlite3.connect(crm_database()) as con:
        rows = con.execute("SELECT id, company_id FROM hubspot_deals").fetchall()
    assert rows and all(company == str(5000 + (int(deal) - 9000) % 50) for deal, company in rows)


def test_salesforce_request_limit_stops_the_sync_cleanly_and_it_resumes(
    server: DataServer,
) -> None:
    server.faults.request_limit_after = 7  # Account's five pages, then two of Opportunity's
    first = sync_connector("salesforce", base_url=server.url)
    assert first.rate_limited and first.errors == []  # not a credentials or a permanent failure
    assert "request limit is spent" in (first.limit or "")
    assert [o.object for o in first.objects] == ["Account", "Opportunity"]
    stopped = first.objects[1]
    assert stopped.rate_limited and stopped.records == 100 and stopped.cursor is not None
    assert first.cursor == stopped.cursor and first.records == 350
    # no hammering: the refusal was asked once, not retried
    refused = [r for r in server.faults.requests if r.startswith("GET /services")]
    assert len(refused) == 8
    server.faults.request_limit_after = None
    server.faults.requests.clear()
    second = sync_connector("salesforce", base_url=server.url)
    assert not second.rate_limited and second.errors == [] and second.cursor is None
    assert second.objects[1].resumed_from == stopped.cursor
    # Account asks what changed; Opportunity picks up at its cursor, not from the start
    assert "FROM+Account+WHERE+SystemModstamp" in server.faults.requests[0]
    assert f"GET {stopped.cursor}?" in server.faults.requests
    assert not any("FROM+Opportunity" in r for r in server.faults.requests)
    assert count("salesforce_opportunities") == (250, 250)
    assert count("salesforce_contacts") == (250, 250)


def test_a_sync_that_fails_midway_resumes_from_its_cursor_without_duplicates(
    server: DataServer,
) -> None:
    server.faults.fail_after_pages = 2
    first = asyncio.run(HubSpotConnector(server.url, retry=FAST).sync())
    assert first.records == 100 and first.errors and "503" in first.errors[0]
    assert first.errors[0].startswith("contacts: ") and len(first.objects) == 1  # it stopped
    assert first.cursor == "100" and count("hubspot_contacts") == (100, 100)
    server.faults.fail_after_pages = None
    server.faults.requests.clear()
    second = asyncio.run(HubSpotConnector(server.url, retry=FAST).sync())
    assert second.resumed_from == "100" and second.errors == []
    assert second.objects[0].records == 150 and [o.done for o in second.objects] == [True] * 3
    assert "after=100" in server.faults.requests[0]
    assert count("hubspot_contacts") == (250, 250)
    # the next sync asks only for what changed since the newest record it stored
    server.faults.requests.clear()
    third = asyncio.run(HubSpotConnector(server.url, retry=FAST).sync(objects=["contacts"]))
    assert server.faults.requests[0].startswith("POST /crm/v3/objects/contacts/search")
    assert third.records < 250 and count("hubspot_contacts") == (250, 250)


def test_synced_records_are_queried_by_the_sql_tool(server: DataServer) -> None:
    report = sync_connector("salesforce", base_url=server.url, objects=["Account"])
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
    assert [q.split(" FROM ")[1].split()[0] for q in server.faults.queries] == [
        "Account",
        "Opportunity",
        "Contact",
    ]
    server.faults.requests.clear()
    asyncio.run(GongConnector(server.url).sync(since="2024-04-02T10:00:00+02:00"))
    assert server.faults.requests[0] == "GET /v2/calls?fromDateTime=2024-04-02T08:00:00Z"
    assert "GET /v2/users?" in server.faults.requests  # users take no time filter
    with pytest.raises(UserError, match="--since: 'yesterday' is not an ISO 8601 date"):
        sync_connector("gong", base_url=server.url, since="yesterday")


def test_hubspot_waits_out_a_spent_rate_limit_window(server: DataServer) -> None:
    server.faults.spend_window = True
    connector = HubSpotConnector(server.url, retry=FAST)
    report = asyncio.run(connector.sync(objects=["contacts"]))
    assert report.records == 250 and report.errors == []
    assert connector.waited_s == pytest.approx(0.2)  # the interval its headers named, once
    assert connector.limit_info["x-hubspot-ratelimit-daily-remaining"] == "249000"
