"""Liveness, readiness and Prometheus metrics (no authentication)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from api.services import Services

router = APIRouter(tags=["health"])

_CHECK_TIMEOUT_S = 3.0


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


class Readiness(BaseModel):
    """Whether every dependency answers."""

    status: str = Field(description="ready or unavailable")
    checks: dict[str, str] = Field(description="Each dependency: ok, or why not.")


@router.get(
    "/readyz",
    summary="Readiness: Kafka, S3 and the catalog reachable",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency does not answer"}},
)
async def readyz(services: Services) -> JSONResponse:
    """200 when every dependency answers, else 503 naming those that do not."""
    checks = {
        "catalog": services.storage.db.ping(),
        "s3": asyncio.to_thread(services.storage.store.ping),
        "kafka": services.publisher.ping(),
    }
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, _CHECK_TIMEOUT_S)
        except Exception as err:  # any failure at all means not ready
            results[name] = f"unavailable: {type(err).__name__}"
        else:
            results[name] = "ok"
    for extra in services.extra_readiness:
        try:
            reason = await asyncio.wait_for(extra(), _CHECK_TIMEOUT_S)
        except Exception as err:  # any failure at all means not ready
            reason = type(err).__name__
        if reason is not None:
            results["worker"] = f"unavailable: {reason}"
            break
    else:
        if services.extra_readiness:
            results["worker"] = "ok"
    ready = all(v == "ok" for v in results.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": results},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(services: Services) -> Response:
    """Every counter, gauge and histogram of this process (API requests included)."""
    return Response(generate_latest(services.registry), media_type=CONTENT_TYPE_LATEST)
