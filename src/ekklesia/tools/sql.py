"""Read-only SQL over one DuckDB or SQLite file: ``await query(path, sql)`` returns a ``SqlResult``.

Contract:

- **Engine.** A file that starts with SQLite's header (``SQLite format 3\\0``) is read with
  ``sqlite3``; one with DuckDB's header (``DUCK`` at byte 8) with ``duckdb``. A file with neither
  (an empty one, say) goes to SQLite if its name ends in ``.sqlite``/``.sqlite3``, else to DuckDB,
  and that engine says what is wrong with it. A missing file is a ``UserError`` naming the path;
  no database file is ever created.
- **One statement, and only one that reads.** SELECT (with ``WITH``, ``VALUES``, ``DESCRIBE``,
  ``SHOW``, ``SUMMARIZE``), EXPLAIN of such a statement, and PRAGMAs that only report (SQLite's
  ``table_info``, ``index_list``, ``user_version`` without a value...; DuckDB's ``table_info``,
  ``show_tables``, ``database_size``...). Anything else is refused before it runs with
  ``UserError("read-only: <statement type> is not allowed")``; two statements, a syntax error or
  any other error of the engine is a ``UserError`` carrying the engine's message on one line.
- **Read-only in depth.** The statement check is the first wall, not the only one. DuckDB opens
  the file with ``read_only=True``, ``enable_external_access=false`` (no other file can be read,
  written, attached or copied to) and no extension loading, then locks its configuration. SQLite
  opens it through a ``mode=ro`` URI with ``PRAGMA query_only=ON`` and an authorizer that allows
  only reads, whitelisted PRAGMAs and functions other than ``load_extension`` (the authorizer runs
  while the statement is prepared, before it executes: a ``WITH ... INSERT`` is caught there).
- **Values** are JSON scalars, so a result round-trips through JSON unchanged (timelines record
  it, replays return it): int, float, str, bool and None as they are; DECIMAL to float; date,
  time and timestamp to ISO 8601 text (with the offset when the value has one); INTERVAL to an ISO
  8601 duration of seconds (``PT93600S``, ``-PT1.5S``); BLOB to lowercase hex; UUID to its text;
  LIST, STRUCT and MAP to JSON text; NaN and infinities to ``"NaN"``, ``"Infinity"``,
  ``"-Infinity"`` (JSON has no such numbers). Columns keep the engine's names, duplicates
  included (``records()`` then keeps the last value of a repeated name).
- **Time.** The query runs in a worker thread and is stopped at ``timeout_s`` (DuckDB:
  ``interrupt()`` from a watcher thread; SQLite: a progress handler), which raises
  ``QueryTimeout``, a ``UserError``: an over-heavy query is the caller's to simplify. If the
  awaiting task is cancelled the query is stopped the same way.
- **No connection outlives the query**: it is opened and closed inside the worker thread.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from decimal import Decimal
from pathlib import Path
from typing import Literal, TypeAlias, overload

import duckdb
from pydantic import BaseModel, ConfigDict

from ekklesia.errors import UserError

__all__ = ["JsonScalar", "QueryTimeout", "SqlResult", "query"]

JsonScalar: TypeAlias = bool | int | float | str | None
Row: TypeAlias = tuple[JsonScalar, ...]


class QueryTimeout(UserError):
    """The query ran past its ``timeout_s`` and was stopped."""


class SqlResult(BaseModel):
    """The rows of one query; a sequence of rows (``len``, iteration, indexing)."""

    model_config = ConfigDict(frozen=True)

    columns: list[str]
    rows: list[Row]
    truncated: bool = False
    """More rows existed than ``max_rows``; ``rows`` holds the first ``max_rows``."""

    def __len__(self) -> int:
        return len(self.rows)

    # BaseModel iterates over (field, value) pairs; a result reads more naturally as its rows.
    def __iter__(self) -> Iterator[Row]:  # type: ignore[override]
        return iter(self.rows)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        return self.rows[index]

    def records(self) -> list[dict[str, JsonScalar]]:
        """The rows as ``{column: value}`` dicts."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


async def query(
    database: str | Path, sql: str, *, max_rows: int = 1000, timeout_s: float = 30.0
) -> SqlResult:
    """Run one read-only statement against ``database`` and return at most ``max_rows`` rows."""
    if max_rows < 0:
        raise UserError(f"max_rows must be 0 or more, not {max_rows}")
    if not timeout_s > 0:
        raise UserError(f"timeout_s must be more than 0, not {timeout_s}")
    path = _database_file(database)
    run = _run_sqlite if _engine_for(path) == "sqlite" else _run_duckdb
    watch = _Watch(timeout_s)
    try:
        return await asyncio.to_thread(run, path, sql, max_rows, watch)
    except asyncio.CancelledError:
        watch.cancel()  # the thread cannot be cancelled; stop its query so it closes promptly
        raise


# --- the file and its engine -----------------------------------------------------------------

_SQLITE_HEADER = b"SQLite format 3\x00"


def _database_file(database: str | Path) -> Path:
    path = Path(database).expanduser()
    if not path.exists():
        raise UserError(f"no database file at {path}")
    if not path.is_file():
        raise UserError(f"{path} is not a database file")
    return path


def _engine_for(path: Path) -> Literal["duckdb", "sqlite"]:
    try:
        with path.open("rb") as file:
            head = file.read(16)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from exc
    if head == _SQLITE_HEADER:
        return "sqlite"
    if head[8:12] == b"DUCK":
        return "duckdb"
    return "sqlite" if path.suffix.lower() in {".sqlite", ".sqlite3"} else "duckdb"


# --- stopping a running query ----------------------------------------------------------------


class _Watch:
    """When a running query must stop: at its deadline, or when its caller was cancelled."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.cancelled = False
        self._wake = threading.Event()

    def expired(self) -> bool:
        return self.cancelled or time.monotonic() >= self.deadline

    def cancel(self) -> None:
        self.cancelled = True
        self._wake.set()

    def timeout(self) -> QueryTimeout:
        return QueryTimeout(f"query ran past its {self.timeout_s:g} s timeout and was stopped")

    @contextmanager
    def interrupting(self, interrupt: Callable[[], object]) -> Iterator[None]:
        """Within the block, call ``interrupt`` from another thread once the watch expires."""
        lock = threading.Lock()
        done = False

        def watch() -> None:
            self._wake.wait(max(0.0, self.deadline - time.monotonic()))
            with lock:  # never interrupt a connection the block has finished with
                if not done:
                    interrupt()

        watcher = threading.Thread(target=watch, name="sql-timeout", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            with lock:
                done = True
            self._wake.set()
            watcher.join()


# --- statements ------------------------------------------------------------------------------

_LEADING_NOISE = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_NOTHING = re.compile(r"(?:\s+|;|--[^\n]*(?:\n|$)|/\*.*?\*/)*", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]+")
_EXPLAIN = re.compile(r"EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^)]*\)\s*)?", re.IGNORECASE)


def _after_noise(sql: str) -> str:
    match = _LEADING_NOISE.match(sql)
    return sql[match.end() :] if match else sql


def _words(sql: str, count: int) -> list[str]:
    """The first ``count`` words of ``sql`` (after comments), lower-cased."""
    words: list[str] = []
    rest = _after_noise(sql)
    while len(words) < count and (match := _WORD.match(rest)):
        words.append(match.group(0).lower())
        rest = _after_noise(rest[match.end() :])
    return words


def _refused(kind: str) -> UserError:
    return UserError(f"read-only: {kind} is not allowed")


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _scalar(value: object) -> JsonScalar:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        if math.isfinite(number):
            return number
        return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
    if isinstance(value, datetime | date | time_of_day):
        return value.isoformat()
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        return f"{'-' if seconds < 0 else ''}PT{abs(seconds):g}S"
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(_nested(value), ensure_ascii=False)
    return str(value)


def _nested(value: object) -> object:
    if isinstance(value, dict):
        return {str(key): _nested(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_nested(item) for item in value]
    return _scalar(value)


def _result(columns: list[str], rows: list[tuple[object, ...]], max_rows: int) -> SqlResult:
    return SqlResult(
        columns=columns,
        rows=[tuple(_scalar(value) for value in row) for row in rows[:max_rows]],
        truncated=len(rows) > max_rows,
    )


# --- DuckDB ----------------------------------------------------------------------------------

_DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,  # last: nothing the query does may undo the settings above
}
# PRAGMAs that only report; the rest change settings or the database.
_DUCKDB_READ_PRAGMAS = frozenset(
    {
        "collations",
        "database_list",
        "database_size",
        "functions",
        "metadata_info",
        "platform",
        "show",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "storage_info",
        "table_info",
        "user_agent",
        "version",
    }
)


def _duckdb_kind(statement: duckdb.Statement) -> str:
    return statement.type.name.replace("_", " ")


def _check_duckdb(con: duckdb.DuckDBPyConnection, statement: duckdb.Statement) -> None:
    kind = statement.type
    if kind == duckdb.StatementType.SELECT:
        return
    if kind == duckdb.StatementType.PRAGMA:
        words = _words(statement.query, 2)
        name = words[1] if len(words) == 2 else ""
        if name not in _DUCKDB_READ_PRAGMAS:
            raise _refused(f"PRAGMA {name}".rstrip())
        return
    if kind == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs the statement it explains, so that statement is checked too.
        text = _after_noise(statement.query)
        match = _EXPLAIN.match(text)
        inner = con.extract_statements(text[match.end() :]) if match else []
        if len(inner) != 1 or inner[0].type != duckdb.StatementType.SELECT:
            raise _refused(f"EXPLAIN of {_duckdb_kind(inner[0])}" if inner else "this EXPLAIN")
        return
    raise _refused(_duckdb_kind(statement))


def _run_duckdb(path: Path, sql: str, max_rows: int, watch: _Watch) -> SqlResult:
    try:
        con = duckdb.connect(str(path), read_only=True, config=_DUCKDB_CONFIG)
    except duckdb.Error as exc:
        raise UserError(f"cannot open {path} with DuckDB: {_one_line(exc)}") from exc
    with closing(con):
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise UserError(_one_line(exc)) from exc
        if len(statements) != 1:
            raise UserError(f"one SQL statement per query, not {len(statements)}")
        _check_duckdb(con, statements[0])
        try:
            with watch.interrupting(con.interrupt):
                con.execute(statements[0])
                columns = [str(column[0]) for column in con.description or []]
                rows = con.fetchmany(max_rows + 1)
        except duckdb.InterruptException as exc:
            raise watch.timeout() from exc
        except duckdb.Error as exc:
            raise UserError(_one_line(exc)) from exc
    return _result(columns, rows, max_rows)


# --- SQLite ----------------------------------------------------------------------------------

_SQLITE_READ_VERBS = frozenset({"select", "with", "values", "explain", "pragma"})
_SQLITE_VERBS = _SQLITE_READ_VERBS | {
    "alter",
    "analyze",
    "attach",
    "begin",
    "commit",
    "create",
    "delete",
    "detach",
    "drop",
    "end",
    "insert",
    "reindex",  # REINDEX without arguments never reaches the authorizer
    "release",
    "replace",
    "rollback",
    "savepoint",
    "update",
    "upsert",
    "vacuum",
}
# PRAGMAs that only report whatever their argument (a table, an index, a schema, a row limit).
_SQLITE_REPORTING_PRAGMAS = frozenset(
    {
        "collation_list",
        "compile_options",
        "database_list",
        "foreign_key_check",
        "foreign_key_list",
        "function_list",
        "index_info",
        "index_list",
        "index_xinfo",
        "integrity_check",
        "module_list",
        "pragma_list",
        "quick_check",
        "table_info",
        "table_list",
        "table_xinfo",
    }
)
# PRAGMAs that report when given no value and change the database or connection when given one.
_SQLITE_SETTING_PRAGMAS = frozenset(
    {
        "application_id",
        "auto_vacuum",
        "data_version",
        "encoding",
        "foreign_keys",
        "freelist_count",
        "journal_mode",
        "page_count",
        "page_size",
        "schema_version",
        "user_version",
    }
)
# Authorizer action codes by name (sqlite3.SQLITE_INSERT is 18 and so on; see sqlite3.h). They
# overlap the result codes (SQLITE_TOOBIG is 18 too), so they are named from a list.
_SQLITE_ACTION_NAMES = (
    "CREATE_INDEX CREATE_TABLE CREATE_TEMP_INDEX CREATE_TEMP_TABLE CREATE_TEMP_TRIGGER "
    "CREATE_TEMP_VIEW CREATE_TRIGGER CREATE_VIEW DELETE DROP_INDEX DROP_TABLE DROP_TEMP_INDEX "
    "DROP_TEMP_TABLE DROP_TEMP_TRIGGER DROP_TEMP_VIEW DROP_TRIGGER DROP_VIEW INSERT PRAGMA READ "
    "SELECT TRANSACTION UPDATE ATTACH DETACH ALTER_TABLE REINDEX ANALYZE CREATE_VTABLE "
    "DROP_VTABLE FUNCTION SAVEPOINT RECURSIVE"
)
_SQLITE_ACTIONS: dict[int, str] = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in _SQLITE_ACTION_NAMES.split()
}


class _SqliteGuard:
    """An authorizer that allows reads only, remembering what it denied for the message."""

    def __init__(self) -> None:
        self.denied: str | None = None

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, _: str | None
    ) -> int:
        if self._allows(action, arg1, arg2, db):
            return sqlite3.SQLITE_OK
        if self.denied is None:
            kind = _SQLITE_ACTIONS.get(action, f"action {action}")
            if action == sqlite3.SQLITE_PRAGMA:
                kind = f"PRAGMA {arg1}"
            elif action == sqlite3.SQLITE_FUNCTION:
                kind = f"{arg2}()"
            self.denied = kind
        return sqlite3.SQLITE_DENY

    @staticmethod
    def _allows(action: int, arg1: str | None, arg2: str | None, db: str | None) -> bool:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE):
            return True
        if action == sqlite3.SQLITE_FUNCTION:
            return (arg2 or "").lower() != "load_extension"
        if action == sqlite3.SQLITE_PRAGMA:
            name = (arg1 or "").lower()
            return name in _SQLITE_REPORTING_PRAGMAS or (
                name in _SQLITE_SETTING_PRAGMAS and arg2 is None
            )
        # A PRAGMA table-valued function (pragma_table_info('t')) asks to UPDATE sqlite_master
        # while SQLite sets up the virtual table; the schema table itself is never writable here
        # (mode=ro, query_only, and writable_schema is not an allowed PRAGMA).
        return action == sqlite3.SQLITE_UPDATE and arg1 == "sqlite_master" and db == "main"


def _run_sqlite(path: Path, sql: str, max_rows: int, watch: _Watch) -> SqlResult:
    if _NOTHING.fullmatch(sql):
        raise UserError("one SQL statement per query, not 0")
    # The verb of the statement, or of the one an EXPLAIN [QUERY PLAN] shows.
    words = [word for word in _words(sql, 4) if word not in {"explain", "query", "plan"}][:1]
    if words and words[0] in _SQLITE_VERBS - _SQLITE_READ_VERBS:
        raise _refused(words[0].upper())
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=min(watch.timeout_s, 5))
    except sqlite3.Error as exc:
        raise UserError(f"cannot open {path} with SQLite: {_one_line(exc)}") from exc
    with closing(con):
        try:
            con.execute("PRAGMA query_only=ON")
            # SQLite reads the file lazily; reading the schema now reports a file that is no
            # database as such, not as an error of whatever statement comes first.
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise UserError(f"cannot open {path} with SQLite: {_one_line(exc)}") from exc
        con.text_factory = lambda raw: raw.decode("utf-8", "replace")
        guard = _SqliteGuard()
        con.set_authorizer(guard)
        # Called every 1000 virtual-machine instructions; a non-zero answer aborts the query.
        con.set_progress_handler(watch.expired, 1000)
        try:
            cursor = con.execute(sql)
            columns = [str(column[0]) for column in cursor.description or []]
            rows = cursor.fetchmany(max_rows + 1)
        except sqlite3.ProgrammingError as exc:
            if "one statement" in str(exc):
                raise UserError("one SQL statement per query, not several") from exc
            raise UserError(_one_line(exc)) from exc
        except sqlite3.Error as exc:
            if guard.denied is not None:
                raise _refused(guard.denied) from exc
            if watch.expired():
                raise watch.timeout() from exc
            raise UserError(_one_line(exc)) from exc
    return _result(columns, rows, max_rows)
