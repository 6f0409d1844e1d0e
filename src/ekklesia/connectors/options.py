"""Options of connector model specs: a query string after the model, ``?key=value&key=value``.

Both schemes share the options that shape the call discipline (``timeout``, ``retries``,
``concurrency``, ``rpm``, ``tpm``), pricing (``price_as``) and tool calling (``tools=off`` for a
server that rejects OpenAI's ``tools`` field: agents then ask for text only); each adds its own.
Every mistake — an unknown option, a repeated one, a value of the wrong kind — is a one-line
:class:`~ekklesia.errors.SpecError` that quotes the spec, raised before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from ekklesia.connectors.resilience import EndpointLimits, RetryPolicy
from ekklesia.errors import SpecError

__all__ = ["CALL_OPTIONS", "SpecOptions", "check_url", "parse_query"]

#: Options every connector spec accepts.
CALL_OPTIONS = ("timeout", "retries", "concurrency", "rpm", "tpm", "price_as", "tools")

_FLAGS = {"on": True, "true": True, "yes": True, "1": True}
_FLAGS.update({"off": False, "false": False, "no": False, "0": False})


def parse_query(query: str, *, spec: str, known: Iterable[str]) -> dict[str, str]:
    """``a=1&b=2`` as a dict; unknown or repeated keys and empty values are errors."""
    allowed = tuple(known)
    if not query:
        return {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise SpecError(f"malformed options in model spec {spec!r}: expected key=value&…") from exc
    options: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            raise SpecError(
                f"unknown option {key!r} in model spec {spec!r} (known: {', '.join(allowed)})"
            )
        if key in options:
            raise SpecError(f"option {key!r} given twice in model spec {spec!r}")
        if not value.strip():
            raise SpecError(f"option {key!r} has no value in model spec {spec!r}")
        options[key] = value.strip()
    return options


def check_url(url: str, *, spec: str, what: str) -> str:
    """``url`` without a trailing slash, if it is an http(s) URL with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(f"{what} in model spec {spec!r} must be an http(s) URL, got {url!r}")
    if parts.username or parts.password:
        raise SpecError(
            f"{what} in model spec {spec!r} must not carry credentials; "
            "put keys in the environment or a secrets file"
        )
    return url.rstrip("/")


class SpecOptions:
    """Typed access to parsed options, with errors that name the option and the spec."""

    def __init__(self, options: dict[str, str], *, spec: str) -> None:
        self.options = options
        self.spec = spec

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def number(self, key: str, *, integer: bool = False, zero_ok: bool = False) -> float | None:
        raw = self.options.get(key)
        if raw is None:
            return None
        try:
            value = float(int(raw)) if integer else float(raw)
        except ValueError as exc:
            kind = "an integer" if integer else "a number"
            raise SpecError(
                f"option {key!r} in model spec {self.spec!r} must be {kind}, got {raw!r}"
            ) from exc
        if value < 0 or (value == 0 and not zero_ok) or value != value or value == float("inf"):
            bound = "0 or more" if zero_ok else "more than 0"
            raise SpecError(
                f"option {key!r} in model spec {self.spec!r} must be {bound}, got {raw!r}"
            )
        return value

    def flag(self, key: str, default: bool) -> bool:
        """``on``/``off`` (or ``true``/``false``, ``yes``/``no``, ``1``/``0``) as a bool."""
        raw = self.options.get(key)
        if raw is None:
            return default
        value = _FLAGS.get(raw.lower())
        if value is None:
            raise SpecError(
                f"option {key!r} in model spec {self.spec!r} must be on or off, got {raw!r}"
            )
        return value

    def timeout(self, default: float) -> float:
        return self.number("timeout") or default

    def retry(self) -> RetryPolicy:
        retries = self.number("retries", integer=True, zero_ok=True)
        return RetryPolicy() if retries is None else RetryPolicy(attempts=int(retries) + 1)

    def limits(self) -> EndpointLimits:
        concurrency = self.number("concurrency", integer=True)
        default = EndpointLimits()
        return EndpointLimits(
            concurrency=int(concurrency) if concurrency is not None else default.concurrency,
            requests_per_min=self.number("rpm"),
            tokens_per_min=self.number("tpm"),
        )
