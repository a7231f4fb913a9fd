"""Short-lived signed URLs for one item's content (for `<audio>` elements and download links).

A media element cannot send a bearer header, so `POST /v1/items/{id}/content-url` hands the
caller a URL that carries its own authority: the item, the purpose, who asked and in which
role, and an expiry, signed with HMAC-SHA256. The URL is checked again on every use (the
item may have been restricted or destroyed since), and every use is audited as a content
read by the principal who asked for it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.errors import ForbiddenError

#: The path under which signed content is served; outside /v1/, as it takes no bearer.
SIGNED_PREFIX = "/signed/content"
_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_.")
MAX_TOKEN_CHARS = 2000


@dataclass(frozen=True, slots=True)
class ContentGrant:
    """What a signed URL allows: one item's content, for a purpose, until expires_at."""

    item_id: str
    purpose: str | None
    principal: str
    role: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ContentUrlSigner:
    """Signs and checks content URLs with one HMAC key."""

    def __init__(self, key: bytes | None = None, *, ttl_s: int = 300) -> None:
        """A signer; without a key, a random one (valid for this process only)."""
        self._key = key or secrets.token_bytes(32)
        self.ttl_s = ttl_s

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def sign(
        self, *, item_id: str, purpose: str | None, principal: str, role: str, now: datetime
    ) -> tuple[str, datetime]:
        """The path of a signed URL for this grant, and when it expires."""
        expires_at = (now + timedelta(seconds=self.ttl_s)).replace(microsecond=0)
        body = {
            "i": item_id,
            "p": purpose,
            "n": principal,
            "r": role,
            "e": int(expires_at.timestamp()),
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{SIGNED_PREFIX}/{payload}.{self._mac(payload)}", expires_at

    def verify(self, token: str, *, now: datetime) -> ContentGrant:
        """The grant a token carries.

        Raises:
            ForbiddenError: The token is malformed, forged, or expired.
        """
        refused = ForbiddenError("this content URL is not valid or has expired; ask for a new one")
        if len(token) > MAX_TOKEN_CHARS or not _ALPHABET.issuperset(token):
            raise refused
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(mac.encode("ascii"), self._mac(payload).encode("ascii")):
            raise refused
        try:
            body = json.loads(_unb64(payload))
            grant = ContentGrant(
                item_id=str(body["i"]),
                purpose=None if body["p"] is None else str(body["p"]),
                principal=str(body["n"]),
                role=str(body["r"]),
                expires_at=datetime.fromtimestamp(int(body["e"]), UTC),
            )
        except (ValueError, KeyError, TypeError, binascii.Error, OverflowError) as err:
            raise refused from err
        if grant.expires_at <= now:
            raise refused
        return grant
