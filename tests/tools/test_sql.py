"""ekklesia.tools.sql against real DuckDB and SQLite files built in tmp_path."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from ekklesia.errors import UserError
from ekklesia.tools.sql import QueryTimeout, SqlResult, query

SLOW_DUCKDB = "SELECT sum(a.range * b.range) FROM range(100000000) a, range(100000) b"
SLOW_SQLITE = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
)
ROWS = [
    (1, 1.5, "ann", None, "2024-01-02", 3.25),
    (2, -2.0, "bob", "late", "2023-12-31", 10.0),
    (3, 0.25, "cy", None, "2000-02-29", -0.5),
]
COLUMNS = ["id", "score", "name", "note", "born", "balance"]


def make_duckdb(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE people (id INTEGER, score DOUBLE, name VARCHAR, note VARCHAR,"
            " born DATE, balance DECIMAL(10, 2))"
        )
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    return path


def make_sqlite(path: Path) -> Path:
    with sqlite3.connect(path) as con:
        con.execute(
            "CREATE TABLE people (id INTEGER, score REAL, name TEXT, note TEXT, born DATE,"
            " balance NUMERIC)"
        )
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    con.close()
    return path


@pytest.fixture(params=["duckdb", "sqlite"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "duckdb":
        return make_duckdb(tmp_path / "data.duckdb")
    return make_sqlite(tmp_path / "data.sqlite")


def state(path: Path) -> tuple[str, int, int, list[str]]:
    """What a write would change: the bytes, mtime and size of the file, and its folder."""
    stat = path.stat()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest, stat.st_mtime_ns, stat.st_size, sorted(os.listdir(path.parent))


def count_people(path: Path) -> int:
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as duck:
            row = duck.execute("SELECT count(*) FROM people").fetchone()
    else:
        with closing(sqlite3.connect(path)) as lite:
            row = lite.execute("SELECT count(*) FROM people").fetchone()
    assert row is not None
    return int(row[0])


async def test_rows_and_columns_come_back_as_json_scalars(db: Path) -> None:
    result = await query(db, "SELECT * FROM people ORDER BY id")
    assert result.columns == COLUMNS
    assert result.rows == ROWS
    assert result.truncated is False
    assert [type(value) for value in result.rows[0]] == [int, float, str, type(None), str, float]


async def test_duckdb_types_without_a_json_equivalent_are_converted(tmp_path: Path) -> None:
    path = make_duckdb(tmp_path / "data.duckdb")
    result = await query(
        path,
        "SELECT TIMESTAMP '2024-01-02 03:04:05' AS ts, TIME '10:11:12' AS t,"
        " INTERVAL 26 HOUR AS iv, '\\x01\\xAB'::BLOB AS b, [1, 2] AS l, {'k': 'v'} AS s,"
        " 'nan'::DOUBLE AS nan, '-inf'::DOUBLE AS ninf, 2::HUGEINT ** 100 AS big,"
        " '6c0a5e60-4b7e-4f52-9f1c-1b0c5d3e9a10'::UUID AS u, true AS yes",
    )
    assert result.records() == [
        {
            "ts": "2024-01-02T03:04:05",
            "t": "10:11:12",
            "iv": "PT93600S",
            "b": "01ab",
            "l": "[1, 2]",
            "s": '{"k": "v"}',
            "nan": "NaN",
            "ninf": "-Infinity",
            "big": 2.0**100,
            "u": "6c0a5e60-4b7e-4f52-9f1c-1b0c5d3e9a10",
            "yes": True,
        }
    ]


async def test_a_result_is_a_sequence_of_rows(db: Path) -> None:
    result = await query(db, "SELECT id, name FROM people ORDER BY id")
    assert len(result) == 3
    assert list(result) == [(1, "ann"), (2, "bob"), (3, "cy")]
    assert result[0] == (1, "ann")
    assert result[-1] == (3, "cy")
    assert result[1:] == [(2, "bob"), (3, "cy")]
    assert result.records()[1] == {"id": 2, "name": "bob"}


@pytest.mark.parametrize(
    ("max_rows", "length", "truncated"), [(2, 2, True), (3, 3, False), (0, 0, True)]
)
async def test_rows_stop_at_max_rows(db: Path, max_rows: int, length: int, truncated: bool) -> None:
    result = await query(db, "SELECT id FROM people ORDER BY id", max_rows=max_rows)
    assert len(result) == length
    assert result.truncated is truncated
    assert result.rows == [(1,), (2,), (3,)][:length]


async def test_a_result_round_trips_through_json(db: Path) -> None:
    result = await query(db, "SELECT *, id = 1 AS first, 2.0 AS two FROM people ORDER BY id")
    again = SqlResult.model_validate_json(result.model_dump_json())
    assert again == result
    # equality alone would let True pass for 1 and 2 for 2.0; the types must survive too
    assert [[type(v) for v in row] for row in again.rows] == [
        [type(v) for v in row] for row in result.rows
    ]
    if db.suffix == ".duckdb":
        assert again.rows[0][-2:] == (True, 2.0)
        assert type(again.rows[0][-2]) is bool and type(again.rows[0][-1]) is float


async def test_a_result_is_frozen(db: Path) -> None:
    result = await query(db, "SELECT 1 AS one")
    with pytest.raises(ValueError, match="frozen"):
        result.truncated = True  # type: ignore[misc]


DUCKDB_WRITES = [
    ("INSERT INTO people (id) VALUES (9)", "INSERT"),
    ("UPDATE people SET name = 'x'", "UPDATE"),
    ("DELETE FROM people", "DELETE"),
    ("CREATE TABLE other (a INTEGER)", "CREATE"),
    ("CREATE TEMP TABLE scratch (a INTEGER)", "CREATE"),
    ("CREATE MACRO twice(x) AS x * 2", "CREATE"),
    ("DROP TABLE people", "DROP"),
    ("ALTER TABLE people ADD COLUMN extra INTEGER", "ALTER"),
    ("ATTACH 'other.duckdb' AS other", "ATTACH"),
    ("DETACH data", "DETACH"),
    ("COPY people TO 'out.csv'", "COPY"),
    ("COPY people FROM 'in.csv'", "COPY"),
    ("EXPORT DATABASE 'dump'", "EXPORT"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("SET threads = 1", "SET"),
    ("RESET threads", "SET"),
    ("PRAGMA threads = 1", "SET"),
    ("PRAGMA enable_profiling", "PRAGMA enable_profiling"),
    ("USE memory", "SET"),
    ("BEGIN TRANSACTION", "TRANSACTION"),
    ("CHECKPOINT", "CALL"),
    ("VACUUM", "VACUUM"),
    ("EXPLAIN ANALYZE DELETE FROM people", "EXPLAIN of DELETE"),
    ("-- a comment first\nDELETE FROM people", "DELETE"),
]
SQLITE_WRITES = [
    ("INSERT INTO people (id) VALUES (9)", "INSERT"),
    ("REPLACE INTO people (id) VALUES (9)", "REPLACE"),
    ("UPDATE people SET name = 'x'", "UPDATE"),
    ("DELETE FROM people", "DELETE"),
    ("WITH n(id) AS (SELECT 9) INSERT INTO people (id) SELECT id FROM n", "INSERT"),
    ("WITH n(id) AS (SELECT 1) DELETE FROM people WHERE id IN n", "DELETE"),
    ("CREATE TABLE other (a INTEGER)", "CREATE"),
    ("CREATE TEMP TABLE scratch (a INTEGER)", "CREATE"),
    ("DROP TABLE people", "DROP"),
    ("ALTER TABLE people ADD COLUMN extra INTEGER", "ALTER"),
    ("ATTACH 'other.sqlite' AS other", "ATTACH"),
    ("DETACH main", "DETACH"),
    ("VACUUM", "VACUUM"),
    ("VACUUM INTO 'copy.sqlite'", "VACUUM"),
    ("REINDEX", "REINDEX"),
    ("ANALYZE", "ANALYZE"),
    ("BEGIN", "BEGIN"),
    ("SAVEPOINT s", "SAVEPOINT"),
    ("PRAGMA journal_mode = WAL", "PRAGMA journal_mode"),
    ("PRAGMA user_version = 7", "PRAGMA user_version"),
    ("PRAGMA query_only = OFF", "PRAGMA query_only"),
    ("PRAGMA writable_schema = ON", "PRAGMA writable_schema"),
    ("PRAGMA wal_checkpoint", "PRAGMA wal_checkpoint"),
    ("SELECT load_extension('mod')", "load_extension()"),
    ("EXPLAIN QUERY PLAN DELETE FROM people", "DELETE"),
    ("/* a comment first */ DELETE FROM people", "DELETE"),
]


@pytest.mark.parametrize(("sql", "kind"), DUCKDB_WRITES)
async def test_duckdb_refuses_every_kind_of_write(tmp_path: Path, sql: str, kind: str) -> None:
    await _refuses_and_leaves_unchanged(make_duckdb(tmp_path / "data.duckdb"), sql, kind)


@pytest.mark.parametrize(("sql", "kind"), SQLITE_WRITES)
async def test_sqlite_refuses_every_kind_of_write(tmp_path: Path, sql: str, kind: str) -> None:
    await _refuses_and_leaves_unchanged(make_sqlite(tmp_path / "data.sqlite"), sql, kind)


async def _refuses_and_leaves_unchanged(path: Path, sql: str, kind: str) -> None:
    before = state(path)
    cwd = Path.cwd()
    os.chdir(path.parent)  # so that a relative file a write names would land beside the database
    try:
        with pytest.raises(UserError) as caught:
            await query(path, sql)
    finally:
        os.chdir(cwd)
    assert str(caught.value) == f"read-only: {kind} is not allowed"
    assert state(path) == before
    assert count_people(path) == 3


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('{other}')",
        "SELECT * FROM '{other}'",
        "SELECT * FROM read_text('{other}')",
        "SELECT * FROM glob('{folder}/*')",
    ],
)
async def test_duckdb_reads_no_other_file(tmp_path: Path, sql: str) -> None:
    # These are SELECTs, so they pass the statement check: the connection itself must refuse.
    path = make_duckdb(tmp_path / "data.duckdb")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(UserError) as caught:
        await query(path, sql.format(other=other, folder=tmp_path))
    assert "disabled by configuration" in str(caught.value) or "does not exist" in str(caught.value)


async def test_attach_and_copy_create_no_file(db: Path) -> None:
    for sql in [
        f"ATTACH '{db.parent / 'attached.db'}' AS other",
        f"COPY people TO '{db.parent / 'out.csv'}'",
        f"VACUUM INTO '{db.parent / 'vacuumed.db'}'",
    ]:
        with pytest.raises(UserError, match=r"^read-only: |^Parser Error|syntax error"):
            await query(db, sql)
    assert sorted(os.listdir(db.parent)) == [db.name]


async def test_sqlite_authorizer_stops_a_write_the_verb_check_lets_through(tmp_path: Path) -> None:
    # A WITH clause hides the write from the leading-verb check; the authorizer sees it at prepare.
    path = make_sqlite(tmp_path / "data.sqlite")
    with pytest.raises(UserError, match=r"^read-only: DELETE is not allowed$"):
        await query(path, "WITH doomed AS (SELECT 1) DELETE FROM people")
    assert count_people(path) == 3


@pytest.mark.parametrize(
    "sql",
    [
        "WITH t AS (SELECT id FROM people) SELECT count(*) FROM t",
        "VALUES (1, 'a')",
        "EXPLAIN SELECT * FROM people",
        "PRAGMA table_info(people)",
    ],
)
async def test_reads_other_than_select_are_allowed(db: Path, sql: str) -> None:
    result = await query(db, sql)
    assert result.columns and len(result) >= 1


@pytest.mark.parametrize(
    "sql", ["DESCRIBE people", "SHOW TABLES", "SUMMARIZE people", "PRAGMA show_tables"]
)
async def test_duckdb_describing_statements_are_allowed(tmp_path: Path, sql: str) -> None:
    result = await query(make_duckdb(tmp_path / "data.duckdb"), sql)
    assert len(result) >= 1


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name FROM pragma_table_info('people')",
        "PRAGMA user_version",
        "PRAGMA index_list(people)",
        "EXPLAIN QUERY PLAN SELECT * FROM people",
    ],
)
async def test_sqlite_reporting_pragmas_are_allowed(tmp_path: Path, sql: str) -> None:
    result = await query(make_sqlite(tmp_path / "data.sqlite"), sql)
    assert result.columns


@pytest.mark.parametrize("sql", ["SELECT 1; SELECT 2", "SELECT 1; DROP TABLE people"])
async def test_two_statements_are_refused(db: Path, sql: str) -> None:
    with pytest.raises(UserError, match=r"^one SQL statement per query"):
        await query(db, sql)
    assert count_people(db) == 3


@pytest.mark.parametrize("sql", ["", "  ;  ", "-- only a comment"])
async def test_no_statement_is_refused(db: Path, sql: str) -> None:
    with pytest.raises(UserError, match=r"^one SQL statement per query, not 0$"):
        await query(db, sql)


async def test_a_syntax_error_is_the_engines_message_on_one_line(db: Path) -> None:
    with pytest.raises(UserError) as caught:
        await query(db, "SELEC id FROM people")
    message = str(caught.value)
    assert "\n" not in message
    if db.suffix == ".duckdb":
        assert message == 'Parser Error: syntax error at or near "SELEC"'
    else:
        assert message == 'near "SELEC": syntax error'


async def test_an_unknown_table_is_a_user_error(db: Path) -> None:
    with pytest.raises(UserError, match="nobody"):
        await query(db, "SELECT * FROM nobody")


@pytest.mark.parametrize("name", ["absent.duckdb", "absent.sqlite", "absent"])
async def test_a_missing_file_is_named_and_not_created(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(UserError, match=f"^no database file at {path}$"):
        await query(path, "SELECT 1")
    assert not path.exists()
    assert os.listdir(tmp_path) == []


async def test_the_header_not_the_name_picks_the_engine(tmp_path: Path) -> None:
    sqlite_named_duckdb = make_sqlite(tmp_path / "a.duckdb")
    duckdb_named_sqlite = make_duckdb(tmp_path / "b.sqlite")
    # sqlite_version() exists only in SQLite, version() only in DuckDB
    assert len(await query(sqlite_named_duckdb, "SELECT sqlite_version()")) == 1
    assert len(await query(duckdb_named_sqlite, "SELECT version()")) == 1


async def test_a_file_that_is_no_database_is_a_user_error(tmp_path: Path) -> None:
    for name in ["notes.duckdb", "notes.sqlite"]:
        path = tmp_path / name
        path.write_text("just some text, long enough to have a header\n")
        with pytest.raises(UserError, match=r"^cannot open .* with (DuckDB|SQLite): "):
            await query(path, "SELECT 1")
        assert path.read_text() == "just some text, long enough to have a header\n"


@pytest.mark.parametrize(
    ("make", "suffix", "slow"),
    [(make_duckdb, ".duckdb", SLOW_DUCKDB), (make_sqlite, ".sqlite", SLOW_SQLITE)],
)
async def test_a_slow_query_stops_at_its_timeout(
    tmp_path: Path, make: object, suffix: str, slow: str
) -> None:
    assert callable(make)
    path = make(tmp_path / f"data{suffix}")
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match=r"^query ran past its 0\.5 s timeout"):
        # wait_for only turns a query that never stops into a failure instead of a hang
        await asyncio.wait_for(query(path, slow, timeout_s=0.5), 10)
    assert time.monotonic() - started < 2.5
    assert issubclass(QueryTimeout, UserError)
    assert len(await query(path, "SELECT 1")) == 1  # and the file is still usable


async def test_cancelling_the_caller_stops_the_query(tmp_path: Path) -> None:
    path = make_duckdb(tmp_path / "data.duckdb")
    task = asyncio.ensure_future(query(path, SLOW_DUCKDB, timeout_s=60))
    await asyncio.sleep(0.3)
    assert any(thread.name == "sql-timeout" for thread in threading.enumerate())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 3
    while any(thread.name == "sql-timeout" for thread in threading.enumerate()):
        assert time.monotonic() < deadline, "the query went on running after its caller left"
        await asyncio.sleep(0.05)


async def test_no_connection_stays_open(db: Path) -> None:
    await query(db, "SELECT * FROM people")
    with pytest.raises(UserError):
        await query(db, "DELETE FROM people")
    fds = Path("/proc/self/fd")
    if fds.is_dir():
        open_files = {os.path.realpath(fds / fd) for fd in os.listdir(fds)}
        assert str(db.resolve()) not in open_files
    if db.suffix == ".duckdb":
        # DuckDB refuses a second connection with another configuration while one is open
        with duckdb.connect(str(db)) as con:
            con.execute("INSERT INTO people (id) VALUES (4)")
        assert count_people(db) == 4


@pytest.mark.parametrize(("max_rows", "timeout_s"), [(-1, 1.0), (10, 0.0), (10, -3.0)])
async def test_bad_limits_are_user_errors(db: Path, max_rows: int, timeout_s: float) -> None:
    with pytest.raises(UserError):
        await query(db, "SELECT 1", max_rows=max_rows, timeout_s=timeout_s)
