"""API keys: roles, limits, expiry and rotation, kept under ``$EKKLESIA_HOME/keys.json``.

A key reads ``ek_<id>_<secret>``. Only the SHA-256 of the whole key is stored (the secrets are 32
random bytes, so a fast hash is enough); the key itself is shown once, when it is made or
rotated. The id is not secret: it names the key in lists, quotas and the audit log. A rotated key
keeps its id, role and limits; its old secret may stay valid for a grace period. The file is
rewritten atomically, and a running server reads it again when it changes, so ``ekklesia keys``
works while ``ekklesia serve`` runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ekklesia.core.paths import data_home
from ekklesia.errors import UserError

__all__ = ["ROLES", "ApiKey", "KeyStore", "Role", "Secret", "role_rank"]

Role = Literal["owner", "admin", "member", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "admin", "member", "viewer")


def role_rank(role: Role) -> int:
    """Higher is mightier: owner 3, admin 2, member 1, viewer 0."""
    return len(ROLES) - 1 - ROLES.index(role)


class ApiKey(BaseModel):
    """One key as stored: never the secret, only its hash."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    role: Role
    hash: str
    created: float
    expires: float | None = None
    revoked: float | None = None
    rpm: int | None = Field(default=None, ge=1)
    tokens_per_hour: int | None = Field(default=None, ge=1)
    usd_per_day: float | None = Field(default=None, gt=0)
    previous_hash: str | None = None
    previous_expires: float | None = None

    def active(self, now: float) -> bool:
        return self.revoked is None and (self.expires is None or now < self.expires)

    def public(self) -> dict[str, object]:
        """What lists and the API show of a key: everything but the hashes."""
        return self.model_dump(exclude={"hash", "previous_hash"})


class Secret(BaseModel):
    """A key as made or rotated: the only time its secret is seen."""

    id: str
    key: str
    role: Role


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _parse(key: str) -> str | None:
    """The id inside ``ek_<id>_<secret>``, or ``None`` if it is not of that form."""
    parts = key.split("_")
    if len(parts) != 3 or parts[0] != "ek" or not parts[1] or not parts[2]:
        return None
    return parts[1]


class KeyStore:
    """The keys of one ``$EKKLESIA_HOME``; safe to share between threads of one process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_home() / "keys.json"
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._stamp: tuple[int, int] | None = None

    # -- reading -------------------------------------------------------------------------------

    def _fresh(self) -> dict[str, ApiKey]:
        """The keys, read again if the file changed since the last look."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            if stamp is None:
                self._keys = {}
            else:
                raw = json.loads(self.path.read_text(encoding="utf-8"))
                self._keys = {k["id"]: ApiKey.model_validate(k) for k in raw.get("keys", [])}
            self._stamp = stamp
        return self._keys

    def all(self) -> list[ApiKey]:
        with self._lock:
            return sorted(self._fresh().values(), key=lambda k: k.created)

    def get(self, key_id: str) -> ApiKey:
        with self._lock:
            found = self._fresh().get(key_id)
        if found is None:
            raise UserError(f"no API key with id {key_id!r}")
        return found

    def verify(self, key: str, now: float | None = None) -> ApiKey | None:
        """The stored key that ``key`` is, if it is valid now (not revoked, not expired)."""
        now = time.time() if now is None else now
        key_id = _parse(key)
        if key_id is None:
            return None
        with self._lock:
            found = self._fresh().get(key_id)
        if found is None or not found.active(now):
            return None
        digest = _hash(key)
        if hmac.compare_digest(digest, found.hash):
            return found
        if (
            found.previous_hash is not None
            and found.previous_expires is not None
            and now < found.previous_expires
            and hmac.compare_digest(digest, found.previous_hash)
        ):
            return found
        return None

    # -- writing -------------------------------------------------------------------------------

    def _save(self, keys: dict[str, ApiKey]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        data = {"keys": [k.model_dump(mode="json") for k in keys.values()]}
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
        self._stamp = None  # read back on the next look

    def create(
        self,
        role: Role,
        *,
        name: str | None = None,
        rpm: int | None = None,
        tokens_per_hour: int | None = None,
        usd_per_day: float | None = None,
        expires_in_s: float | None = None,
    ) -> Secret:
        if role not in ROLES:
            raise UserError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
        if expires_in_s is not None and expires_in_s <= 0:
            raise UserError(f"--expires-in must be > 0 seconds, got {expires_in_s}")
        key_id = secrets.token_hex(6)
        key = f"ek_{key_id}_{secrets.token_urlsafe(32).replace('_', 'A')}"
        now = time.time()
        stored = ApiKey(
            id=key_id,
            name=name or f"{role}-{key_id}",
            role=role,
            hash=_hash(key),
            created=now,
            expires=None if expires_in_s is None else now + expires_in_s,
            rpm=rpm,
            tokens_per_hour=tokens_per_hour,
            usd_per_day=usd_per_day,
        )
        with self._lock:
            keys = dict(self._fresh())
            keys[key_id] = stored
            self._save(keys)
        return Secret(id=key_id, key=key, role=role)

    def revoke(self, key_id: str) -> ApiKey:
        with self._lock:
            keys = dict(self._fresh())
            if key_id not in keys:
                raise UserError(f"no API key with id {key_id!r}")
            revoked = keys[key_id].model_copy(update={"revoked": time.time()})
            keys[key_id] = revoked
            self._save(keys)
        return revoked

    def rotate(self, key_id: str, *, grace_s: float = 0.0) -> Secret:
        """A new secret for the same key; the old one stays valid for ``grace_s`` seconds."""
        if grace_s < 0:
            raise UserError(f"--grace must be >= 0 seconds, got {grace_s}")
        with self._lock:
            keys = dict(self._fresh())
            old = keys.get(key_id)
            if old is None or old.revoked is not None:
                raise UserError(f"no active API key with id {key_id!r}")
            key = f"ek_{key_id}_{secrets.token_urlsafe(32).replace('_', 'A')}"
            keys[key_id] = old.model_copy(
                update={
                    "hash": _hash(key),
                    "previous_hash": old.hash if grace_s > 0 else None,
                    "previous_expires": time.time() + grace_s if grace_s > 0 else None,
                }
            )
            self._save(keys)
        return Secret(id=key_id, key=key, role=old.role)
