"""Finished runs kept on disk, so that a sweep that was stopped resumes where it stopped.

One JSON file per run under ``$EKKLESIA_HOME/learn/runs/<strategy digest>/``, named by the task id
and the seed (a run is the same run whatever the strategy is called). Each file is written
atomically (a temporary file, then a rename) once its run has finished, so a sweep killed at any
moment leaves only whole records; a record that cannot be read is treated as not run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import ValidationError

from ekklesia.core.paths import data_home
from ekklesia.learn.runs import RunRecord

__all__ = ["RunStore", "learn_home"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def learn_home() -> Path:
    """``<data home>/learn``: the learner's state, finished runs and reports."""
    return data_home() / "learn"


class RunStore:
    """Finished runs, keyed by (strategy digest, task id, seed)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or learn_home() / "runs"

    def path(self, digest: str, task_id: str, seed: int) -> Path:
        return self.root / digest / f"{_UNSAFE.sub('_', task_id)}~{seed}.json"

    def get(self, digest: str, task_id: str, seed: int) -> RunRecord | None:
        path = self.path(digest, task_id, seed)
        try:
            return RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValidationError):
            return None

    def put(self, record: RunRecord) -> Path:
        path = self.path(record.digest, record.task_id, record.seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(record.model_dump_json(), encoding="utf-8")
        os.replace(tmp, path)
        return path

    def count(self) -> int:
        return sum(1 for _ in self.root.glob("*/*.json")) if self.root.exists() else 0
