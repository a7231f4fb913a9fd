"""Errors of the API and the one place where errors become HTTP statuses.

Every error response is the JSON `ErrorBody`; no response ever carries a stack trace. Errors
of the storage context and of the catalog's driver are mapped here too, so a route never
catches them just to pick a status.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from storage.errors import (
    CatalogConflictError,
    CatalogError,
    CatalogUnavailableError,
    IntegrityError,
    StorageError,
)

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

    def __init__(
        self, field: str, message: str, *, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.errors = errors


class PayloadTooLargeError(ApiError):
    """The request body is larger than the route accepts."""

    status_code = 413

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"(body): the request body is larger than {limit_bytes} bytes")
        self.field = "(body)"
        self.limit_bytes = limit_bytes


class RangeNotSatisfiableError(ApiError):
    """The Range asked for lies beyond the content."""

    status_code = 416

    def __init__(self, size_bytes: int) -> None:
        super().__init__(f"range not satisfiable; the content has {size_bytes} bytes")
        self.size_bytes = size_bytes


class UnavailableError(ApiError):
    """A dependency (Kafka, object store, catalog) is unreachable now; try again."""

    status_code = 503


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="The field, dotted for nested body fields; (body) for all.")
    location: str = Field(description="Where the field is: query, path, header or body.")
    message: str = Field(description="What is wrong with it.")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str = Field(description="The error's name, e.g. NotFoundError or ValidationError.")
    detail: str = Field(description="A message for people; never a stack trace.")
    field: str | None = Field(default=None, description="The (first) invalid field, if any.")
    errors: list[FieldError] | None = Field(
        default=None, description="Every invalid field (422 from request validation)."
    )


#: Why each status is answered; the OpenAPI document declares these with ErrorBody.
ERROR_DESCRIPTIONS: dict[int, str] = {
    401: "Missing or unknown bearer token",
    403: "The caller's role may not use this route",
    404: "No such resource, or one the caller may not see",
    409: "Conflicts with the resource's state",
    413: "The request body is larger than the route accepts",
    416: "The range lies beyond the content",
    422: "A request field is invalid; `field` names it",
    500: "Internal error (details only in the service log)",
    503: "A dependency is unreachable; retry later",
}


def _where(request: Request) -> str:
    """The route template of a request (never its path: paths carry subject ids)."""
    route = request.scope.get("route")
    return str(getattr(route, "path", "(no route)"))


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries declaring these error statuses with the ErrorBody model."""
    return {s: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[s]} for s in statuses}


def error_response(exc: ApiError) -> JSONResponse:
    """The response of an API error (also used by middleware, outside the handlers)."""
    headers: dict[str, str] = {}
    if isinstance(exc, UnauthenticatedError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, RangeNotSatisfiableError):
        headers["Content-Range"] = f"bytes */{exc.size_bytes}"
    body: dict[str, object] = {"error": type(exc).__name__, "detail": exc.message}
    if isinstance(exc, BadRequestError | PayloadTooLargeError):
        body["field"] = exc.field
    if isinstance(exc, BadRequestError) and exc.errors:
        body["errors"] = exc.errors
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


#: The example of a valid time in every message about one.
RFC3339_EXAMPLE = "2026-01-31T09:00:00Z"
_TIME = f"must be an RFC 3339 timestamp with a UTC offset, e.g. {RFC3339_EXAMPLE}"
_TIME_ERRORS = frozenset(
    {
        "datetime_parsing",
        "datetime_from_date_parsing",
        "datetime_type",
        "datetime_object_invalid",
        "timezone_aware",
    }
)
_PLAIN_TYPES = {
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "json_invalid": "not valid JSON",
    "missing": "is required",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least {}"),
    "greater_than": ("gt", "must be more than {}"),
    "less_than_equal": ("le", "must be at most {}"),
    "less_than": ("lt", "must be less than {}"),
    "string_too_short": ("min_length", "must have at least {} characters"),
    "string_too_long": ("max_length", "must have at most {} characters"),
    "too_short": ("min_length", "must list at least {} values"),
    "too_long": ("max_length", "must list at most {} values"),
}


def _parameter(request: Request | None, location: str, name: str) -> FieldInfo | None:
    """The declaration of a query, path or header parameter of the route, if it has one."""
    route = request.scope.get("route") if request is not None else None
    pending = [getattr(route, "dependant", None)]
    attribute = {"query": "query_params", "path": "path_params", "header": "header_params"}
    while pending and location in attribute:
        dependant = pending.pop()
        if dependant is None:
            continue
        for param in getattr(dependant, attribute[location]):
            if name in {param.alias, param.name}:
                info: FieldInfo = param.field_info
                return info
        pending.extend(dependant.dependencies)
    return None


def _model_fields(request: Request | None, path: list[str]) -> list[str]:
    """The fields of the body model that holds `path` (for naming the allowed ones)."""
    route = request.scope.get("route") if request is not None else None
    body = getattr(getattr(route, "dependant", None), "body_params", None) or [None]
    model: Any = getattr(getattr(body[0], "field_info", None), "annotation", None)
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(part)
        options = get_args(field.annotation) if field is not None else ()
        model = (
            next((o for o in options if isinstance(o, type)), None)
            if options
            else (field.annotation if field is not None else None)
        )
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _example(info: FieldInfo | None) -> str | None:
    """A valid value of a parameter: its first example, else its default."""
    if info is None:
        return None
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    examples = info.examples or extra.get("examples")
    if isinstance(examples, list) and examples:
        return str(examples[0])
    if info.default is not None and info.default is not PydanticUndefined:
        return str(info.default).lower() if isinstance(info.default, bool) else str(info.default)
    return None


def _is_time(info: FieldInfo | None, pattern: str) -> bool:
    extra = info.json_schema_extra if info is not None else None
    return (isinstance(extra, dict) and extra.get("format") == "date-time") or (
        r"\d{4}-\d{2}-\d{2}" in pattern
    )


def field_message(err: Any, info: FieldInfo | None = None, allowed: list[str] | None = None) -> str:
    """What is wrong with a field (a pydantic error), for people: no regex, an example."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind in _TIME_ERRORS:
        return _TIME
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if _is_time(info, pattern):
            return _TIME
        if "\\x00" in pattern or "\x00" in pattern:
            message = "must not contain control characters (U+0000 to U+001F, U+007F)"
        else:
            message = "is not in the expected form"
    elif kind in {"literal_error", "enum"}:
        message = f"must be one of {ctx.get('expected', '')}".strip()
    elif kind == "extra_forbidden":
        message = "is not a field of this request" + (
            f"; the fields are {', '.join(allowed)}" if allowed else ""
        )
    elif kind in _BOUNDS:
        key, template = _BOUNDS[kind]
        bound = ctx.get(key, ctx.get("limit_value", ""))
        message = (
            "must not be empty"
            if kind == "string_too_short" and bound == 1
            else template.format(bound)
        )
    else:
        message = _PLAIN_TYPES.get(kind, str(err.get("msg", "invalid")))
    example = _example(info)
    return f"{message}, e.g. {example}" if example and kind != "extra_forbidden" else message


def _field_error(err: Any, request: Request | None = None) -> dict[str, str]:
    loc = [str(p) for p in err.get("loc", ())]
    location = loc[0] if loc and loc[0] in {"query", "path", "header", "cookie", "body"} else ""
    parts = loc[1:] if location else loc
    if err.get("type") == "json_invalid":
        parts = []
    field = ".".join(parts) or "(body)"
    info = _parameter(request, location, parts[0]) if len(parts) == 1 else None
    allowed = (
        _model_fields(request, parts[:-1])
        if err.get("type") == "extra_forbidden" and location == "body"
        else None
    )
    return {
        "field": field,
        "location": location or "body",
        "message": field_message(err, info, allowed),
    }


#: Called with every 401 or 403 a route raises (the API audits them as access.denied).
OnDenied = Callable[[Request, "ApiError"], Awaitable[None]]


_DENIED = frozenset({401, 403})


def install_error_handlers(app: FastAPI, *, on_denied: OnDenied | None = None) -> None:
    """Map every error to a JSON `ErrorBody`; never a stack trace.

    Args:
        app: The application.
        on_denied: Told of each 401 and 403 before it is answered.
    """

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        if on_denied is not None and exc.status_code in _DENIED:
            await on_denied(request, exc)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_field_error(err, request) for err in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        body = {
            "error": "ValidationError",
            "detail": detail or "invalid request",
            "field": errors[0]["field"] if errors else "(body)",
            "errors": errors,
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # noqa: PLR2004 - FastAPI's "error parsing the body"
            return JSONResponse(
                {
                    "error": "ValidationError",
                    "detail": f"(body): {exc.detail}",
                    "field": "(body)",
                    "errors": [{"field": "(body)", "location": "body", "message": str(exc.detail)}],
                },
                status_code=422,
            )
        return JSONResponse(
            {"error": "HTTPError", "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> JSONResponse:
        if exc.retriable:
            what = "catalog" if isinstance(exc, CatalogUnavailableError) else "object store"
            log.warning("%s on %s %s: %s", type(exc).__name__, request.method, _where(request), exc)
            return JSONResponse(
                {"error": "UnavailableError", "detail": f"{what} unavailable; retry later"},
                status_code=503,
            )
        if isinstance(exc, CatalogConflictError):
            # A write that collided with a concurrent one: the caller's retry decides again.
            log.warning("catalog conflict on %s %s: %s", request.method, _where(request), exc)
            return JSONResponse(
                {"error": "ConflictError", "detail": "a concurrent change collided; retry"},
                status_code=409,
            )
        # Messages name item and segment ids and driver codes only (no content, keys or
        # statement parameters): fine to log, with the frames for a catalog error.
        log.error("%s on %s %s: %s", type(exc).__name__, request.method, _where(request), exc)
        if isinstance(exc, CatalogError):
            log.error("catalog error at\n%s", "".join(traceback.format_tb(exc.__traceback__)))
            return JSONResponse(
                {"error": "InternalError", "detail": "internal error; see the service log"},
                status_code=500,
            )
        detail = (
            "stored content failed its integrity check"
            if isinstance(exc, IntegrityError)
            else "storage error; see the service log"
        )
        return JSONResponse({"error": type(exc).__name__, "detail": detail}, status_code=500)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises it after this response, so the server logs the traceback.
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, _where(request))
        return JSONResponse(
            {"error": "InternalError", "detail": "internal error; see the service log"},
            status_code=500,
        )
