"""Who may do what: API keys checked before a body is read, roles, permissions, quotas, audit.

:class:`AccessMiddleware` (pure ASGI, outermost) answers ``401`` to a request without a valid
``Authorization: Bearer`` key before the application reads a byte of its body, ``413`` to a body
over the limit, and appends every state-changing request to the audit log. Each route then
declares the permission it needs with :func:`require` (``403`` when the key's role lacks it,
``429`` when the key is over its requests per minute), or :func:`public` — and
:func:`check_routes` refuses an application with a route that declares neither: deny by default.

Roles nest: viewer ⊂ member ⊂ admin ⊂ owner.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from ekklesia.serve.audit import AuditLog
from ekklesia.serve.keys import ApiKey, KeyStore, Role
from ekklesia.serve.quotas import QuotaExceeded, QuotaKeeper

__all__ = [
    "PERMISSIONS",
    "PUBLIC_PATHS",
    "ROLE_PERMISSIONS",
    "Access",
    "AccessMiddleware",
    "Principal",
    "check_routes",
    "error_body",
    "permission_of",
    "public",
    "require",
    "walk_routes",
]

PERMISSIONS = (
    "runs:read",
    "runs:write",
    "costs:read",
    "health:read",
    "patterns:read",
    "embeddings",
    "memory:read",
    "memory:write",
    "index",
    "keys:manage",
    "config:read",
    "dashboard:read",
)
_VIEWER = frozenset(
    {"runs:read", "costs:read", "health:read", "patterns:read", "config:read", "dashboard:read"}
)
_MEMBER = _VIEWER | {"runs:write", "embeddings", "memory:read", "memory:write"}
_ADMIN = _MEMBER | {"index", "keys:manage"}
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    "viewer": _VIEWER,
    "member": frozenset(_MEMBER),
    "admin": frozenset(_ADMIN),
    "owner": frozenset(PERMISSIONS),
}
PUBLIC_PATHS = frozenset({"/health"})
_CHANGES_STATE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Principal:
    """The caller, as a route sees it: the key's id, name and role (never its secret)."""

    id: str
    name: str
    role: Role
    key: ApiKey = field(repr=False, compare=False)


@dataclass
class Access:
    """What the access checks share in one process: the key store, quotas, the audit log."""

    keys: KeyStore = field(default_factory=KeyStore)
    quotas: QuotaKeeper = field(default_factory=QuotaKeeper)
    audit: AuditLog = field(default_factory=AuditLog)
    max_body_bytes: int = 1 << 20


def require(permission: str) -> Callable[..., Principal]:
    """A FastAPI dependency: the caller's :class:`Principal`, if its role has ``permission``."""
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def dependency(request: Request, response: Response) -> Principal:
        principal = request.scope.get("state", {}).get("principal")
        if not isinstance(principal, Principal):  # the middleware lets no such request through
            raise HTTPException(401, "an API key is required", {"WWW-Authenticate": "Bearer"})
        if permission not in ROLE_PERMISSIONS[principal.role]:
            raise HTTPException(
                403, f"the role {principal.role!r} lacks the permission {permission!r}"
            )
        access: Access = request.app.state.access
        try:
            headers = access.quotas.admit(principal.key)
        except QuotaExceeded as exc:
            raise quota_error(exc) from None
        response.headers.update(headers)
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by check_routes
    return dependency


def quota_error(exc: QuotaExceeded) -> HTTPException:
    return HTTPException(429, str(exc), {"Retry-After": str(exc.retry_after), **exc.remaining})


def public() -> None:
    """A FastAPI dependency that marks a route as open to anyone (``/health`` only)."""


public.permission = "public"  # type: ignore[attr-defined]


def permission_of(route: APIRoute) -> str | None:
    """The permission a route declares through its dependencies, if any."""
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        found = getattr(dep.call, "permission", None)
        if isinstance(found, str):
            return found
        stack.extend(dep.dependencies)
    return None


def walk_routes(routes: list[Any]) -> list[Any]:
    """Every route, with those of included routers (FastAPI keeps those as one entry each)."""
    out: list[Any] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            out.extend(walk_routes(list(inner.routes)))
        else:
            out.append(route)
    return out


def check_routes(routes: list[Any]) -> None:
    """Refuse an application with a route that declares no permission (deny by default)."""
    for route in walk_routes(routes):
        if not isinstance(route, APIRoute):
            raise ValueError(f"route {getattr(route, 'path', route)!r} is not an API route")
        found = permission_of(route)
        if found is None:
            raise ValueError(f"route {route.path} declares no permission")
        if found == "public" and route.path not in PUBLIC_PATHS:
            raise ValueError(f"route {route.path} may not be public")


class _TooLarge(BaseException):  # FastAPI turns an Exception while reading into a 400
    """Raised mid-body when a body without a length passes the limit."""


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            text: str = bytes(value).decode("latin-1")
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


#: Pages a browser opens by address, where it cannot send a header: their key may come as
#: ``?key=`` (once; the page keeps it and sends it as a bearer from then on).
PAGE_PATHS = frozenset({"/dashboard"})


def _page_key(scope: Scope, method: str, path: str) -> str | None:
    if method != "GET" or path not in PAGE_PATHS:
        return None
    query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
    keys = query.get("key")
    return keys[0] if keys and keys[0] else None


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


_ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_body(status: int, detail: Any) -> dict[str, Any]:
    """``detail`` as FastAPI gives it, and ``error`` as OpenAI clients read it."""
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))
    else:
        message = str(detail)
    kind = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"detail": detail, "error": {"message": message, "type": kind, "code": status}}


async def _reply(send: Send, status: int, detail: str, headers: dict[str, str]) -> None:
    body = json.dumps(error_body(status, detail)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class AccessMiddleware:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        method: str = scope["method"]
        principal: Principal | None = None
        status = [0]

        def audit() -> None:
            if method in _CHANGES_STATE:
                route = scope.get("route")
                self.access.audit.record(
                    key_id=principal.id if principal else None,
                    key_name=principal.name if principal else None,
                    method=method,
                    route=getattr(route, "path", path),
                    path=path,
                    status=status[0],
                )

        if path not in PUBLIC_PATHS:
            token = _bearer(scope) or _page_key(scope, method, path)
            key = self.access.keys.verify(token) if token else None
            if key is None:
                status[0] = 401
                audit()
                detail = "a valid API key is required (Authorization: Bearer …)"
                await _reply(send, 401, detail, {"WWW-Authenticate": "Bearer"})
                return
            principal = Principal(key.id, key.name, key.role, key)
            scope.setdefault("state", {})["principal"] = principal
        limit = self.access.max_body_bytes
        length = _content_length(scope)
        if length is not None and length > limit:
            status[0] = 413
            audit()
            await _reply(send, 413, f"the request body is over the {limit}-byte limit", {})
            return
        seen = [0]

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit:
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if status[0] == 0:
                status[0] = 413
                await _reply(send, 413, f"the request body is over the {limit}-byte limit", {})
        finally:
            if status[0] == 0:
                status[0] = 500
            audit()
