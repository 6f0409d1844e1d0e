"""Where ekklesia keeps its data: ``$EKKLESIA_HOME`` (``~/.ekklesia`` by default)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_home", "timeline_dir"]


def data_home() -> Path:
    """``$EKKLESIA_HOME``, else ``~/.ekklesia``; read on every call, so tests can move it."""
    return Path(os.environ.get("EKKLESIA_HOME") or Path.home() / ".ekklesia")


def timeline_dir() -> Path:
    """Where timelines are written: ``<data home>/timelines``."""
    return data_home() / "timelines"
