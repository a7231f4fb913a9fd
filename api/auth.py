"""Callers and their roles: static bearer tokens and OIDC bearer tokens (JWTs).

Static tokens come from KEEPLINE_API_TOKENS and are kept only as sha256 digests, compared in
constant time. JWTs are verified against signing keys from the settings (PEM or a JWKS file)
or found through OpenID discovery from the issuer (`api.jwks`): signature, issuer, audience
and expiry; the roles come from a configurable claim (`groups` for Dex), optionally mapped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from api.errors import ConfigurationError
from api.jwks import DiscoveredKeys, KeySet, StaticKeys, http_fetcher
from api.settings import ApiSettings
from policies.models import Role

log = logging.getLogger(__name__)


#: keepline's own roles; any other role a caller holds is a reader role of the policy.
API_ROLES = frozenset(role.value for role in Role)

# When a caller holds several roles, a route is served in the first of them it allows:
# legal and privacy see every item, so they come before qa's purpose-bound view.
_PREFERENCE = (Role.LEGAL, Role.PRIVACY, Role.ADMIN, Role.AUDITOR, Role.QA, Role.INGEST)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and in which role.

    Attributes:
        name: The caller's name, as the audit trail records it.
        role: The role the caller acts in on this request ("" when it holds none).
        roles: Every role the caller holds (an OIDC token may carry several).
    """

    name: str
    role: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not self.roles and self.role:
            object.__setattr__(self, "roles", frozenset({self.role}))

    def acting_in(self, allowed: Iterable[str]) -> Principal | None:
        """This caller acting in one of its roles that ``allowed`` contains, or None.

        A reader role (a role of the firm that the policy declares, SPEC section 4) behaves
        as ``qa`` does: it may use every route ``qa`` may, and retrieves only for purposes
        the active policy lets it use (`policies.access.visible_to`).
        """
        allowed = frozenset(allowed)
        usable = self.roles & allowed
        if not usable and Role.QA in allowed:
            usable = frozenset(r for r in self.roles if r and r not in API_ROLES)
        if not usable:
            return None
        if self.role in usable:
            return self
        role = next((r for r in _PREFERENCE if r in usable), min(usable))
        return Principal(name=self.name, role=role, roles=self.roles)


class Authenticator(Protocol):
    """Turns a bearer token into a principal."""

    def authenticate(self, token: str) -> Principal | None:
        """The principal the token belongs to, or None for a token this cannot accept."""
        ...


class TokenAuthenticator:
    """Static tokens from KEEPLINE_API_TOKENS, kept only as sha256 digests in memory."""

    def __init__(self, triples: Iterable[tuple[str, str, str]]) -> None:
        self._entries: list[tuple[bytes, Principal]] = []
        for token, role, name in triples:
            digest = hashlib.sha256(token.encode("utf-8")).digest()
            self._entries.append((digest, Principal(name=name, role=role)))

    @classmethod
    def from_setting(cls, value: str, *, known_roles: Iterable[str]) -> TokenAuthenticator:
        """Parse `token:role:principal,…`; refuses malformed entries and unknown roles.

        known_roles are the API roles and the reader roles the policy declares; a token of
        a reader role behaves as ``qa`` does (`Principal.acting_in`).

        Raises:
            ConfigurationError: An entry is not a triple or names an unknown role (the
                message gives the entry's position, never the token).
        """
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
                    f"roles are {', '.join(sorted(roles))} (a role of your own must be "
                    "declared under reader_roles in the policy)"
                )
            triples.append((token, role, name))
        return cls(triples)

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, token: str) -> Principal | None:
        """The principal the token belongs to, or None; time does not depend on which."""
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found: Principal | None = None
        for known, principal in self._entries:
            if hmac.compare_digest(known, digest):
                found = principal
        return found


# Symmetric algorithms would let anyone holding the public key mint tokens.
_FAMILIES: Mapping[type[Any], frozenset[str]] = {
    rsa.RSAPublicKey: frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    ec.EllipticCurvePublicKey: frozenset({"ES256", "ES384", "ES512", "ES256K"}),
    ed25519.Ed25519PublicKey: frozenset({"EdDSA"}),
    ed448.Ed448PublicKey: frozenset({"EdDSA"}),
}
_ASYMMETRIC = frozenset().union(*_FAMILIES.values())
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A public key that signs accepted JWTs, and the algorithms it may be used with."""

    key: Any
    algorithms: tuple[str, ...]
    key_id: str | None = None


def _algorithms_for(key: Any, configured: Iterable[str]) -> tuple[str, ...]:
    for kind, family in _FAMILIES.items():
        if isinstance(key, kind):
            return tuple(a for a in configured if a in family)
    raise ConfigurationError(f"unsupported JWT signing key type {type(key).__name__}")


def keys_from_pem(text: str, algorithms: Sequence[str]) -> list[SigningKey]:
    """Public keys (or certificates) in a PEM bundle.

    Raises:
        ConfigurationError: The text holds no PEM block, or one that is not a public key.
    """
    blocks = list(_PEM_BLOCK.finditer(text.replace("\\n", "\n")))
    if not blocks:
        raise ConfigurationError("KEEPLINE_OIDC_PUBLIC_KEYS_PEM holds no PEM block")
    keys = []
    for number, block in enumerate(blocks, 1):
        data = block.group(0).encode("ascii")
        try:
            if block.group(1) == "CERTIFICATE":
                public: Any = x509.load_pem_x509_certificate(data).public_key()
            else:
                public = load_pem_public_key(data)
        except ValueError as err:
            raise ConfigurationError(
                f"KEEPLINE_OIDC_PUBLIC_KEYS_PEM block {number} is not a public key or certificate"
            ) from err
        keys.append(SigningKey(public, _algorithms_for(public, algorithms)))
    return keys


def keys_from_jwks(text: str, algorithms: Sequence[str], *, source: str) -> list[SigningKey]:
    """Public keys of a JWKS document; keys meant for encryption are skipped.

    Raises:
        ConfigurationError: The document is not a JWKS or holds a key that cannot be used.
    """
    try:
        document = json.loads(text)
    except ValueError as err:
        raise ConfigurationError(f"{source} is not JSON ({err})") from err
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ConfigurationError(f"{source} is not a JWKS document: no list of keys")
    keys = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            jwk = jwt.PyJWK.from_dict(entry)
        except jwt.PyJWTError as err:
            raise ConfigurationError(f"{source} key {number} cannot be used: {err}") from err
        public = jwk.key.public_key() if hasattr(jwk.key, "private_bytes") else jwk.key
        allowed = _algorithms_for(public, algorithms)
        if entry.get("alg"):
            allowed = tuple(a for a in allowed if a == entry["alg"])
        keys.append(SigningKey(public, allowed, entry.get("kid")))
    return keys


def parse_role_map(value: str, *, known_roles: Iterable[str]) -> dict[str, str]:
    """Parse `claim-value=role,…` (KEEPLINE_OIDC_ROLE_MAP).

    Raises:
        ConfigurationError: An entry is not a pair, or maps to a role that does not exist.
    """
    roles = frozenset(known_roles)
    found: dict[str, str] = {}
    for number, entry in enumerate(filter(None, (e.strip() for e in value.split(","))), 1):
        claim_value, sep, role = (part.strip() for part in entry.rpartition("="))
        if not sep or not claim_value or not role:
            raise ConfigurationError(f"KEEPLINE_OIDC_ROLE_MAP entry {number} is not value=role")
        if role not in roles:
            raise ConfigurationError(
                f"KEEPLINE_OIDC_ROLE_MAP entry {number}: unknown role {role!r}; "
                f"roles are {', '.join(sorted(roles))}"
            )
        found[claim_value] = role
    return found


class JwtAuthenticator:
    """OIDC bearer tokens: signature, issuer, audience and expiry checked locally."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        keys: Sequence[SigningKey] | KeySet,
        role_claim: str = "keepline_role",
        role_map: Mapping[str, str] | None = None,
        principal_claim: str = "sub",
        known_roles: Iterable[str] = tuple(Role),
        leeway_s: float = 30.0,
    ) -> None:
        if isinstance(keys, Sequence):
            if not keys:
                raise ConfigurationError("JWT authentication needs at least one signing key")
            keys = StaticKeys(keys)
        self._issuer = issuer
        self._audience = audience
        self._key_set: KeySet = keys
        self._role_path = tuple(role_claim.split("."))
        self._role_map = dict(role_map or {})
        self._principal_claim = principal_claim
        self._known_roles = frozenset(known_roles)
        self._leeway_s = leeway_s

    @classmethod
    def from_settings(
        cls, settings: ApiSettings, *, reader_roles: Iterable[str] = ()
    ) -> JwtAuthenticator | None:
        """The authenticator the settings describe, or None when no provider is set.

        A token's roles count when they are API roles or reader_roles (those the policy
        declares), as named in the token or mapped by KEEPLINE_OIDC_ROLE_MAP.

        Keys given as PEM or a JWKS file are used as given; with neither, they are found
        through OpenID discovery from the issuer (fetched on first use, not here).

        Raises:
            ConfigurationError: Keys or an audience without an issuer (or the reverse), an
                unreadable key, an issuer that is not https (http only on loopback), a bad
                role map, or an algorithm that is not asymmetric.
        """
        pem, jwks = settings.oidc_public_keys_pem, settings.oidc_jwks_file
        audience = settings.oidc_audience or settings.oidc_client_id
        if not settings.oidc_issuer and not pem and jwks is None and not audience:
            return None
        if not settings.oidc_issuer or not audience:
            raise ConfigurationError(
                "JWT authentication needs KEEPLINE_OIDC_ISSUER and KEEPLINE_OIDC_AUDIENCE "
                "(or KEEPLINE_OIDC_CLIENT_ID)"
            )
        algorithms = [a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()]
        refused = sorted(set(algorithms) - _ASYMMETRIC)
        if refused or not algorithms:
            raise ConfigurationError(
                f"KEEPLINE_OIDC_ALGORITHMS: {', '.join(refused) or '(none)'} not accepted; "
                f"use asymmetric algorithms ({', '.join(sorted(_ASYMMETRIC))})"
            )
        key_set: list[SigningKey] | KeySet
        if pem or jwks is not None:
            key_set = keys_from_pem(pem, algorithms) if pem else []
            if jwks is not None:
                try:
                    text = jwks.read_text(encoding="utf-8")
                except OSError as err:
                    raise ConfigurationError(f"KEEPLINE_OIDC_JWKS_FILE unreadable: {err}") from err
                key_set += keys_from_jwks(text, algorithms, source="KEEPLINE_OIDC_JWKS_FILE")
        else:
            key_set = DiscoveredKeys(
                issuer=settings.oidc_issuer,
                parse=lambda text: keys_from_jwks(text, algorithms, source="the provider's JWKS"),
                fetch=http_fetcher(settings.oidc_http_timeout_s),
                refresh_min_s=settings.oidc_jwks_refresh_min_s,
                max_age_s=settings.oidc_jwks_max_age_s,
            )
        known_roles = [*(r.value for r in Role), *sorted(reader_roles)]
        return cls(
            issuer=settings.oidc_issuer,
            audience=audience,
            keys=key_set,
            role_claim=settings.oidc_role_claim,
            role_map=parse_role_map(settings.oidc_role_map, known_roles=known_roles),
            principal_claim=settings.oidc_principal_claim,
            known_roles=known_roles,
            leeway_s=settings.oidc_leeway_s,
        )

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid token, or None (the reason is logged, the token never)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(alg, str) or alg not in _ASYMMETRIC:
            return None
        keys = self._key_set.keys()
        if kid is not None and not any(k.key_id == kid for k in keys):
            keys = self._key_set.refresh_for(kid if isinstance(kid, str) else None)

        def usable(key: SigningKey) -> bool:
            return alg in key.algorithms and (kid is None or key.key_id in (None, kid))

        for candidate in filter(usable, keys):
            try:
                claims = jwt.decode(
                    token,
                    candidate.key,
                    algorithms=list(candidate.algorithms),
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=self._leeway_s,
                    options={"require": ["exp", "iss", "aud", self._principal_claim]},
                )
            except jwt.InvalidSignatureError:
                continue
            except (jwt.PyJWTError, ValueError, TypeError) as err:
                log.info("JWT refused: %s", type(err).__name__)
                return None
            return self._principal(claims)
        log.info("JWT refused: no signing key verifies it")
        return None

    def _principal(self, claims: Mapping[str, Any]) -> Principal | None:
        name = claims.get(self._principal_claim)
        if not isinstance(name, str) or not name:
            return None
        value: Any = claims
        for part in self._role_path:
            value = value.get(part) if isinstance(value, Mapping) else None
        found = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        mapped = (self._role_map.get(r, r) for r in found if isinstance(r, str))
        roles = frozenset(r for r in mapped if r in self._known_roles)
        role = next((r for r in _PREFERENCE if r in roles), "")
        return Principal(name=name, role=role, roles=roles)


class ChainAuthenticator:
    """Static tokens first, then JWTs: the first authenticator that accepts a token wins."""

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self._authenticators = tuple(authenticators)

    def authenticate(self, token: str) -> Principal | None:
        """The principal of the first authenticator that knows the token."""
        for authenticator in self._authenticators:
            principal = authenticator.authenticate(token)
            if principal is not None:
                return principal
        return None


def build_authenticator(
    settings: ApiSettings, *, reader_roles: Iterable[str] = ()
) -> Authenticator:
    """Every way of authenticating the settings enable, combined.

    Args:
        settings: The API settings.
        reader_roles: The reader roles the configured policy declares (SPEC section 4):
            static tokens may hold them beside the API roles.

    Raises:
        ConfigurationError: Tokens or OIDC settings that cannot be used.
    """
    tokens = TokenAuthenticator.from_setting(
        settings.api_tokens.get_secret_value(),
        known_roles=[*(r.value for r in Role), *sorted(reader_roles)],
    )
    jwts = JwtAuthenticator.from_settings(settings, reader_roles=reader_roles)
    if jwts is None:
        return tokens
    return ChainAuthenticator([tokens, jwts])
