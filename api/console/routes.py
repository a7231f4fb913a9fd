"""Routes of the console: the page, its assets, and the sign-in configuration it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from api.errors import NotFoundError
from api.services import Services
from api.settings import ApiSettings

router = APIRouter(include_in_schema=False)

STATIC: Final = Path(__file__).parent / "static"
_MEDIA_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
#: The assets, read once: only these names are ever served, whatever a path says.
ASSETS: Final = {
    path.relative_to(STATIC).as_posix(): (path.read_bytes(), _MEDIA_TYPES[path.suffix])
    for path in sorted(STATIC.rglob("*"))
    if path.is_file() and path.suffix in _MEDIA_TYPES
}


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(settings: ApiSettings) -> str:
    """The console's CSP: this origin only, plus the provider's for discovery and tokens."""
    provider = _origin(settings.oidc_issuer) if settings.oidc_client_id else None
    connect = " ".join(filter(None, ["'self'", provider]))
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "media-src 'self' blob:",
            f"connect-src {connect}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


def _headers(settings: ApiSettings) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def _asset(name: str, settings: ApiSettings) -> Response:
    found = ASSETS.get(name)
    if found is None:
        raise NotFoundError("no such console file")
    body, media_type = found
    return Response(body, media_type=media_type, headers=_headers(settings))


@router.get("/")
async def console(services: Services) -> Response:
    """The console's page."""
    return _asset("index.html", services.settings)


@router.get("/console/config.json")
async def console_config(request: Request, services: Services) -> JSONResponse:
    """How the console signs users in: the OpenID provider, or tokens for local use."""
    settings = services.settings
    oidc = None
    if settings.oidc_issuer and settings.oidc_client_id:
        oidc = {
            "issuer": settings.oidc_issuer,
            "client_id": settings.oidc_client_id,
            "scopes": settings.oidc_scopes,
        }
    # Routes the console uses where this keepline has them (the OpenAPI document is built
    # once and cached by the app).
    paths = request.app.openapi().get("paths", {})
    body = {
        "oidc": oidc,
        "features": {
            "content_url": "/v1/items/{item_id}/content-url" in paths,
            "policy_dry_run": "/v1/policy/dry-run" in paths,
        },
    }
    return JSONResponse(body, headers=_headers(settings))


@router.get("/console/{asset:path}")
async def console_asset(
    asset: Annotated[str, PathParam(max_length=200)], services: Services
) -> Response:
    """One of the console's files (404 for anything else)."""
    return _asset(asset, services.settings)
