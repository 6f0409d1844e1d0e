"""`ekklesia connect add|list|sync`: credentials stored 0600 where secret() finds them, listed
without their values, and a sync run from the command line."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ekklesia.cli import app
from ekklesia.connectors.secrets import credential_store, secret

sys.path.insert(0, str(Path(__file__).parents[1] / "connectors"))
from data_servers import TOKEN, data_server

runner = CliRunner()
KEY = "tvly-abcdefghijklmnop1234"


def test_add_stores_the_key_where_secret_finds_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAVILY_API_KEY", raising=False)
    ran = runner.invoke(app, ["connect", "add", "tavily", "--key-stdin"], input=KEY + "\n")
    assert ran.exit_code == 0, ran.output
    assert KEY not in ran.output
    assert stat.S_IMODE(credential_store().stat().st_mode) == 0o600
    assert secret("TAVILY_API_KEY") == KEY
    monkeypatch.setenv("TAVILY_API_KEY", "from-the-environment")
    assert secret("TAVILY_API_KEY") == "from-the-environment"  # the environment comes first


def test_add_prompts_with_hidden_input_for_each_field() -> None:
    ran = runner.invoke(app, ["connect", "add", "gong"], input="gong-key-1\ngong-secret-22\n")
    assert ran.exit_code == 0, ran.output
    assert "gong-secret-22" not in ran.output and "gong-key-1" not in ran.output
    assert secret("GONG_ACCESS_KEY") == "gong-key-1"
    assert secret("GONG_ACCESS_KEY_SECRET") == "gong-secret-22"


def test_list_says_what_is_set_and_never_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TAVILY_API_KEY", "EXA_API_KEY", "HUBSPOT_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runner.invoke(app, ["connect", "add", "tavily", "--key-stdin"], input=KEY + "\n")
    ran = runner.invoke(app, ["connect", "list", "--json"])
    assert ran.exit_code == 0 and KEY not in ran.output
    rows = {r["name"]: r for r in json.loads(ran.stdout)}
    assert set(rows) >= {"tavily", "exa", "serper", "perplexity", "hubspot", "salesforce", "gong"}
    assert rows["tavily"]["set"] and rows["tavily"]["secrets"] == {"TAVILY_API_KEY": "set (…1234)"}
    assert not rows["exa"]["set"] and rows["exa"]["secrets"] == {"EXA_API_KEY": "not set"}
    table = runner.invoke(app, ["connect", "list"])
    assert table.exit_code == 0 and KEY not in table.output


def test_bad_input_is_one_line_and_exit_2() -> None:
    unknown = runner.invoke(app, ["connect", "add", "nosuch", "--key-stdin"], input="x\n")
    assert unknown.exit_code == 2 and "unknown connector 'nosuch'" in unknown.output
    short = runner.invoke(app, ["connect", "add", "salesforce", "--key-stdin"], input="x\n")
    assert short.exit_code == 2 and "--key-stdin: salesforce needs 2 line(s)" in short.output
    unset = runner.invoke(app, ["connect", "sync", "hubspot", "--base-url", "http://127.0.0.1:9"])
    assert unset.exit_code == 2 and "HUBSPOT_ACCESS_TOKEN is not set" in unset.output


@pytest.mark.usefixtures("ray_session")
def test_sync_pulls_records_that_bi_can_query(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    runner.invoke(app, ["connect", "add", "hubspot", "--key-stdin"], input=TOKEN + "\n")
    with data_server(size=120, page_size=50) as server:
        ran = runner.invoke(app, ["connect", "sync", "hubspot", "--base-url", server.url, "--json"])
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.stdout)
    tables = ["hubspot_contacts", "hubspot_companies", "hubspot_deals"]
    assert report["tables"] == tables and report["errors"] == [] and TOKEN not in ran.output
    assert [(o["table"], o["records"], o["pages"]) for o in report["objects"]] == [
        ("hubspot_contacts", 120, 3),
        ("hubspot_companies", 24, 1),
        ("hubspot_deals", 120, 3),
    ]
    assert report["records"] == 264 and report["pages"] == 7 and not report["rate_limited"]
    # the analyst (a simulated one counts the rows of the table the question names) reads them
    asked = runner.invoke(app, ["bi", "How many hubspot_contacts are there?", "--data", "crm"])
    assert asked.exit_code == 0, asked.output
    lines = asked.stdout.splitlines()
    assert lines[0] == "120" and "FROM hubspot_contacts" in lines[1]


def test_a_spent_salesforce_allowance_exits_75_and_object_picks_the_types() -> None:
    from ekklesia.connectors.secrets import store_secret

    with data_server(size=100, page_size=50) as server:
        store_secret("SALESFORCE_ACCESS_TOKEN", TOKEN)
        store_secret("SALESFORCE_INSTANCE_URL", server.url)
        server.faults.request_limit_after = 1
        args = ["connect", "sync", "salesforce", "--object", "Contact", "--object", "Account"]
        ran = runner.invoke(app, args)
        assert ran.exit_code == 75, ran.output
        assert "salesforce Contact: 50 records in salesforce_contacts" in ran.output
        assert "rate limited:" in ran.output and "request limit is spent" in ran.output
        assert "error:" not in ran.output
        server.faults.request_limit_after = None
        again = runner.invoke(app, [*args, "--json"])
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout)
    assert report["tables"] == ["salesforce_contacts", "salesforce_accounts"]
    assert report["objects"][0]["resumed_from"] is not None and report["records"] == 150
