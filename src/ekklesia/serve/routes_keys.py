"""``/v1/keys``: keys managed over HTTP — an admin manages keys below owner, the owner all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from ekklesia.serve.access import Access, Principal, require
from ekklesia.serve.keys import Role, role_rank
from ekklesia.serve.schemas import example

__all__ = ["KeyRequest", "keys_router"]

Manager = Annotated[Principal, Depends(require("keys:manage"))]
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{1,64}$")]
_KEY = {"id": "3f2a9c1b7d4e", "name": "ci", "role": "member", "created": 1764590400.0}


class KeyRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"role": "member", "name": "ci"}]}
    )

    role: Role
    name: str | None = Field(default=None, min_length=1, max_length=100)
    rpm: int | None = Field(default=None, ge=1)
    tokens_per_hour: int | None = Field(default=None, ge=1)
    usd_per_day: float | None = Field(default=None, gt=0, le=1e9)
    expires_in_s: float | None = Field(default=None, gt=0, le=1e10)


class RotateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"grace_s": 3600}]})

    grace_s: float = Field(default=0.0, ge=0, le=1e8)


def _may_manage(who: Principal, role: Role) -> None:
    if role == "owner" and who.role != "owner":
        raise HTTPException(403, "only an owner manages owner keys")
    if role_rank(role) > role_rank(who.role):
        raise HTTPException(403, f"a {who.role} cannot manage {role} keys")


def keys_router(
    access: Access,
    errors: dict[int | str, dict[str, Any]],
    not_found: dict[int | str, dict[str, Any]],
) -> APIRouter:
    router = APIRouter()

    def _found(key_id: str) -> Any:
        try:
            return access.keys.get(key_id)
        except Exception:
            raise HTTPException(404, f"no API key with id {key_id!r}") from None

    @router.get("/v1/keys", responses={**errors, **example({"keys": [_KEY]})})
    async def list_keys(_: Manager) -> dict[str, Any]:
        """Every key (never a secret or a hash)."""
        return {"keys": [k.public() for k in access.keys.all()]}

    @router.post(
        "/v1/keys",
        status_code=201,
        responses={
            **errors,
            **example({"id": "3f2a9c1b7d4e", "key": "ek_…", "role": "member"}, 201, "Created"),
        },
    )
    async def create_key(body: KeyRequest, who: Manager) -> dict[str, Any]:
        """Make a key; its secret is in this answer only."""
        _may_manage(who, body.role)
        made = access.keys.create(
            body.role,
            name=body.name,
            rpm=body.rpm,
            tokens_per_hour=body.tokens_per_hour,
            usd_per_day=body.usd_per_day,
            expires_in_s=body.expires_in_s,
        )
        return made.model_dump()

    @router.post("/v1/keys/{key_id}/revoke", responses={**errors, **not_found, **example(_KEY)})
    async def revoke_key(key_id: KeyId, who: Manager) -> dict[str, Any]:
        """Revoke a key: it is refused from now on."""
        _may_manage(who, _found(key_id).role)
        return access.keys.revoke(key_id).public()

    @router.post(
        "/v1/keys/{key_id}/rotate",
        responses={
            **errors,
            **not_found,
            **example({"id": "3f2a9c1b7d4e", "key": "ek_…", "role": "member"}),
        },
    )
    async def rotate_key(key_id: KeyId, body: RotateRequest, who: Manager) -> dict[str, Any]:
        """A new secret for a key; the old one stays valid ``grace_s`` seconds."""
        _may_manage(who, _found(key_id).role)
        try:
            return access.keys.rotate(key_id, grace_s=body.grace_s).model_dump()
        except Exception as exc:
            raise HTTPException(404, str(exc)) from None

    return router
