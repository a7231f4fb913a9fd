"""Errors of the API and the one place where errors become HTTP statuses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Root of the API's errors; each carries its HTTP status."""

    status_code = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(ApiError):
    """The API's settings cannot be used as given."""


class UnauthenticatedError(ApiError):
    """No valid bearer token."""

    status_code = 401


class ForbiddenError(ApiError):
    """The caller's role may not use this route."""

    status_code = 403


class NotFoundError(ApiError):
    """No such resource, or one the caller may not see."""

    status_code = 404


class ConflictError(ApiError):
    """The request conflicts with the resource's state."""

    status_code = 409


class BadRequestError(ApiError):
    """A request field is invalid; the message names it."""

    status_code = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class RangeNotSatisfiableError(ApiError):
    """The Range asked for lies beyond the content."""

    status_code = 416

    def __init__(self, size_bytes: int) -> None:
        super().__init__(f"range not satisfiable; the content has {size_bytes} bytes")
        self.size_bytes = size_bytes


class UnavailableError(ApiError):
    """A dependency (Kafka, object store, catalog) is unreachable now; try again."""

    status_code = 503


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to a JSON body `{"error": ..., "detail": ...}`; never a stack trace."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers: dict[str, str] = {}
        if isinstance(exc, UnauthenticatedError):
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RangeNotSatisfiableError):
            headers["Content-Range"] = f"bytes */{exc.size_bytes}"
        body: dict[str, object] = {"error": type(exc).__name__, "detail": exc.message}
        if isinstance(exc, BadRequestError):
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "(body)",
                "message": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return JSONResponse(
            {"error": "ValidationError", "detail": detail, "errors": errors}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": "HTTPError", "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return JSONResponse(
            {"error": "InternalError", "detail": "internal error; see the service log"},
            status_code=500,
        )
