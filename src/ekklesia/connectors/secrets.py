"""API keys: read from the environment, a secrets file or the credential store; kept out of sight.

A key is looked up by name (``OPENAI_API_KEY``): first in the environment, then in the file named by
``EKKLESIA_SECRETS_FILE`` — ``NAME=value`` lines, ``#`` comments and blank lines allowed, values
optionally quoted — then in the credential store, ``$EKKLESIA_HOME/credentials`` (the same format,
file mode 0600), which ``ekklesia connect add NAME`` writes through :func:`store_secret`.
Keys never appear in a spec, a timeline, a log line or an error message: every
value handed out here is remembered, and :func:`redact` replaces it (and anything that looks like a
bearer token) with ``***`` in any text about to be shown or recorded.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

from ekklesia.core.paths import data_home
from ekklesia.errors import UserError

__all__ = [
    "SECRETS_FILE_ENV",
    "credential_store",
    "redact",
    "remember_secret",
    "secret",
    "store_secret",
    "stored_secrets",
]

SECRETS_FILE_ENV = "EKKLESIA_SECRETS_FILE"

_known: set[str] = set()
_lock = threading.Lock()
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_KEY_LIKE = re.compile(r"\b(?:sk|pk)-[A-Za-z0-9_-]{12,}")
# Short values would redact ordinary words; real keys are long.
_MIN_SECRET_LEN = 6


def remember_secret(value: str) -> str:
    """Mark ``value`` as secret so that :func:`redact` hides it; returns it unchanged."""
    if len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _known.add(value)
    return value


def redact(text: str) -> str:
    """``text`` with every known secret and every bearer token replaced by ``***``."""
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, "***")
    text = _BEARER.sub(r"\1***", text)
    return _KEY_LIKE.sub("***", text)


def _read_file(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError as exc:
        raise UserError(f"secrets file not found: {path} (named by ${SECRETS_FILE_ENV})") from exc
    except OSError as exc:
        raise UserError(f"secrets file {path} cannot be read: {exc.strerror}") from exc
    values: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            # The line itself may be a key; say where, never what.
            raise UserError(f"secrets file {path}, line {number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


def secret(name: str, *, file: str | os.PathLike[str] | None = None) -> str | None:
    """The value of secret ``name``, or ``None`` when neither the environment nor the file has it.

    ``file`` overrides ``$EKKLESIA_SECRETS_FILE``. The value is remembered for :func:`redact`.
    """
    value = os.environ.get(name)
    if not value:
        path = file or os.environ.get(SECRETS_FILE_ENV)
        if path:
            value = _read_file(Path(path)).get(name)
    if not value:
        value = stored_secrets().get(name)
    if not value:
        return None
    return remember_secret(value)


def credential_store() -> Path:
    """``$EKKLESIA_HOME/credentials``: the secrets ``ekklesia connect add`` stored."""
    return data_home() / "credentials"


def stored_secrets() -> dict[str, str]:
    """Every secret in the credential store, by name (empty when there is no store)."""
    path = credential_store()
    if not path.exists():
        return {}
    return _read_file(path)


_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def store_secret(name: str, value: str) -> Path:
    """Put ``name=value`` in the credential store (created with mode 0600); returns its path.

    The file is rewritten whole, to a temporary file of mode 0600 renamed over it, so it is never
    readable by others, not even for a moment, and never half written.
    """
    if not _NAME.match(name):
        raise UserError(f"secret name {name!r}: use capitals, digits and '_' (TAVILY_API_KEY)")
    if not value or "\n" in value or "\r" in value:
        raise UserError(f"the value of {name} must be one non-empty line")
    path = credential_store()
    values = stored_secrets()
    values[name] = value.strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key}={val}\n" for key, val in sorted(values.items()))
    fd, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(body)
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    remember_secret(value)
    return path
