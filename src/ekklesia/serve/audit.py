"""The audit log: one JSON line per state-changing request, under ``$EKKLESIA_HOME/audit.jsonl``.

Who (the key's id and name, never its secret), what (method, route, path), when, and the outcome
(the status code, and ``ok``, ``denied``, ``refused`` or ``error``). Appends are single writes of a
whole line, so concurrent writers do not interleave within a record.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ekklesia.core.paths import data_home

__all__ = ["AuditLog", "AuditRecord", "outcome_of"]


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    when: float
    key_id: str | None
    key_name: str | None
    method: str
    route: str
    path: str
    status: int
    outcome: str


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (401, 403):
        return "denied"
    if status == 429 or status == 413:
        return "refused"
    if status < 500:
        return "rejected"
    return "error"


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_home() / "audit.jsonl"

    def append(self, record: AuditRecord) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (record.model_dump_json() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def record(
        self,
        *,
        key_id: str | None,
        key_name: str | None,
        method: str,
        route: str,
        path: str,
        status: int,
    ) -> None:
        self.append(
            AuditRecord(
                when=time.time(),
                key_id=key_id,
                key_name=key_name,
                method=method,
                route=route,
                path=path,
                status=status,
                outcome=outcome_of(status),
            )
        )

    def read(self, limit: int | None = None) -> list[AuditRecord]:
        """The records, oldest first (the last ``limit`` of them if given)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        if limit is not None:
            lines = lines[-limit:] if limit > 0 else []
        out = []
        for line in lines:
            try:
                out.append(AuditRecord.model_validate(json.loads(line)))
            except ValueError:  # a line cut short by a crash mid-write
                continue
        return out
