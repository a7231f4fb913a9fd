"""The caller as the API sees it: who the bearer token belongs to, and its roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.services import Caller

router = APIRouter(prefix="/v1/me", tags=["session"])


@router.get("", summary="Who the bearer token belongs to, and its roles")
async def whoami(caller: Caller) -> dict[str, Any]:
    """``{"name", "role", "roles"}``: the console shows each user the views of their roles."""
    return {"name": caller.name, "role": caller.role, "roles": sorted(caller.roles)}
