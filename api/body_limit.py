"""Bounded request bodies: no route reads more than its limit, whatever the client sends.

`BodyLimit` answers 413 (`PayloadTooLargeError`) when the declared Content-Length is over
the route's limit, without reading the body, and otherwise reads at most the limit before
the route runs (a chunked body has no length to check first). The route then gets the
buffered body, so memory per request is bounded by the limit.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PayloadTooLargeError, error_response
from api.services import TEMPLATE_KEY

#: JSON bodies (holds, subject rights): a few kilobytes in practice.
DEFAULT_BODY_BYTES = 1024 * 1024
_MAX_DIGITS = 18
_OVER_ANY_LIMIT = 10**_MAX_DIGITS


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length header as a number; None when absent or not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            digits = value.strip()
            if not digits.isdigit():  # bytes.isdigit: ASCII digits only
                return None
            # More digits than any limit has: over it, without converting the number.
            return int(digits) if len(digits) <= _MAX_DIGITS else _OVER_ANY_LIMIT
    return None


def _has_body(scope: Scope) -> bool:
    return any(name in {b"content-length", b"transfer-encoding"} for name, _ in scope["headers"])


class BodyLimit:
    """ASGI middleware refusing request bodies larger than the route allows (413).

    Runs inside `RoleGate`, so a caller without a valid token is refused before any of
    its body is read, and the limit is looked up by the route template the gate matched.

    Args:
        app: The application.
        default_bytes: The limit of every route not listed.
        per_route: (method, path template) -> the limit of that route.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_bytes: int = DEFAULT_BODY_BYTES,
        per_route: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        self._app = app
        self._default_bytes = default_bytes
        self._per_route = dict(per_route or {})

    def limit_for(self, method: str, template: str | None) -> int:
        """The largest body a request to this route may carry."""
        if template is None:
            return self._default_bytes
        return self._per_route.get((method, template), self._default_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an oversized body; pass the request on with its body read."""
        if scope["type"] != "http" or not _has_body(scope):
            await self._app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope.get(TEMPLATE_KEY))
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await error_response(PayloadTooLargeError(limit))(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        pending: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending = message  # the client left; the route sees it after the body
                break
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await error_response(PayloadTooLargeError(limit))(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self._app(scope, _replay(b"".join(chunks), pending, receive), send)


def _replay(body: bytes, pending: Message | None, receive: Receive) -> Receive:
    """A receive that hands out the buffered body once, then what the client sends."""
    queue: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    if pending is not None:
        queue.append(pending)

    async def replayed() -> Message:
        if queue:
            return queue.pop(0)
        return await receive()

    return replayed
