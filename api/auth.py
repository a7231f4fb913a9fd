"""Callers and their roles: static bearer tokens, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from api.errors import ConfigurationError


class Role(StrEnum):
    """The roles of SPEC section 7."""

    INGEST = "ingest"
    QA = "qa"
    LEGAL = "legal"
    PRIVACY = "privacy"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and in which role."""

    name: str
    role: str


class TokenAuthenticator:
    """Static tokens from KEEPLINE_API_TOKENS, kept only as sha256 digests in memory."""

    def __init__(self, triples: Iterable[tuple[str, str, str]]) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        for token, role, name in triples:
            digest = hashlib.sha256(token.encode("utf-8")).digest()
            self._entries.append((digest, Principal(name=name, role=role)))

    @classmethod
    def from_setting(cls, value: str, *, known_roles: Iterable[str]) -> TokenAuthenticator:
        """Parse `token:role:principal,…`; refuses malformed entries and unknown roles."""
        roles = set(known_roles)
        triples = []
        for number, entry in enumerate(filter(None, (e.strip() for e in value.split(","))), 1):
            parts = entry.split(":")
            if len(parts) != 3 or not all(parts):  # noqa: PLR2004 - token:role:principal
                raise ConfigurationError(
                    f"KEEPLINE_API_TOKENS entry {number} is not token:role:principal"
                )
            token, role, name = parts
            if role not in roles:
                raise ConfigurationError(
                    f"KEEPLINE_API_TOKENS entry {number}: unknown role {role!r}; "
                    f"roles are {', '.join(sorted(roles))}"
                )
            triples.append((token, role, name))
        return cls(triples)

    def authenticate(self, token: str) -> Principal | None:
        """The principal the token belongs to, or None; time does not depend on which."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found: Principal | None = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, digest):
                found = principal
        return found
