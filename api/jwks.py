"""Signing keys found through OpenID discovery: the provider's JWKS, cached, rotation honoured.

`DiscoveredKeys` reads ``<issuer>/.well-known/openid-configuration``, then the document at its
``jwks_uri``. The key set is cached for ``max_age_s``; a token whose ``kid`` is not in it
makes the set be fetched again (a provider rotated its keys), at most once per
``refresh_min_s``, so a stream of forged tokens cannot turn into a stream of requests. A
failed fetch keeps the keys already known.

A fetch blocks the request that needs it for at most the HTTP timeout; it happens on first
use, when the set is older than ``max_age_s`` and for an unknown ``kid`` as above.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from api.errors import ConfigurationError

log = logging.getLogger(__name__)

#: A discovery document or a JWKS is a few KiB; anything much larger is not one.
MAX_DOCUMENT_BYTES = 1 << 20
DISCOVERY_PATH = "/.well-known/openid-configuration"


class KeySet(Protocol):
    """Where a JWT authenticator gets its signing keys."""

    def keys(self) -> Sequence[Any]:
        """The keys known now (`api.auth.SigningKey`s)."""
        ...

    def refresh_for(self, kid: str | None) -> Sequence[Any]:
        """The keys after a token named a key id none of them has (may fetch again)."""
        ...


class StaticKeys:
    """Keys given once (PEM, a JWKS file): nothing to refresh."""

    def __init__(self, keys: Sequence[Any]) -> None:
        self._keys = tuple(keys)

    def keys(self) -> Sequence[Any]:
        """The keys as given."""
        return self._keys

    def refresh_for(self, kid: str | None) -> Sequence[Any]:
        """The same keys: a pinned set does not change."""
        del kid
        return self._keys


class DocumentError(Exception):
    """A discovery document or JWKS could not be fetched or is not what it should be."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_issuer_url(issuer: str) -> None:
    """An issuer must be https, or http on loopback (a local provider).

    Raises:
        ConfigurationError: Any other URL.
    """
    parts = urlsplit(issuer)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return
    raise ConfigurationError(
        "KEEPLINE_OIDC_ISSUER must be an https URL (http only on loopback, for a local provider)"
    )


def http_fetcher(timeout_s: float) -> Callable[[str], bytes]:
    """A GET of a small JSON document: no redirects, bounded size, 200 only."""

    def fetch(url: str) -> bytes:
        try:
            with (
                httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
                client.stream("GET", url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != httpx.codes.OK:
                    raise DocumentError(f"{url} answered {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise DocumentError(f"{url} is larger than {MAX_DOCUMENT_BYTES} bytes")
                return bytes(body)
        except httpx.HTTPError as err:
            raise DocumentError(f"{url} unreachable: {type(err).__name__}") from err

    return fetch


def _elapsed(since: float | None, now: float, interval_s: float) -> bool:
    return since is None or now - since >= interval_s


class DiscoveredKeys:
    """The provider's signing keys, found from its issuer URL and kept fresh."""

    def __init__(
        self,
        *,
        issuer: str,
        parse: Callable[[str], Sequence[Any]],
        fetch: Callable[[str], bytes],
        refresh_min_s: float = 60.0,
        max_age_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Keys of ``issuer``; nothing is fetched before the first token.

        Args:
            issuer: The issuer URL, exactly as tokens carry it in ``iss``.
            parse: Turns a JWKS document into signing keys (raises ConfigurationError).
            fetch: GETs a URL and returns its body (raises DocumentError).
            refresh_min_s: Least time between fetches caused by unknown key ids.
            max_age_s: Age after which the key set is fetched again.
            clock: Monotonic seconds.
        """
        check_issuer_url(issuer)
        self._issuer = issuer
        self._parse = parse
        self._fetch = fetch
        self._refresh_min_s = refresh_min_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: tuple[Any, ...] = ()
        self._jwks_uri: str | None = None
        self._loaded_at: float | None = None
        self._failed_at: float | None = None
        self._kid_refresh_at: float | None = None

    def keys(self) -> Sequence[Any]:
        """The cached keys, fetched first if there are none or they are too old."""
        with self._lock:
            now = self._clock()
            stale = self._loaded_at is None or now - self._loaded_at >= self._max_age_s
            # After a failed fetch, wait as for an unknown kid: a provider that is down
            # is not asked again on every request.
            if stale and _elapsed(self._failed_at, now, self._refresh_min_s):
                self._load(now)
            return self._keys

    def refresh_for(self, kid: str | None) -> Sequence[Any]:
        """Fetch the set again for an unknown key id, at most once per ``refresh_min_s``."""
        with self._lock:
            now = self._clock()
            if _elapsed(self._kid_refresh_at, now, self._refresh_min_s):
                log.info("JWT names a key id not in the provider's key set: fetching it again")
                self._kid_refresh_at = now
                self._load(now)
            return self._keys

    def _load(self, now: float) -> None:
        try:
            uri = self._jwks_uri or self._discover()
            keys = self._parse(self._fetch(uri).decode("utf-8"))
        except (DocumentError, ConfigurationError, UnicodeDecodeError) as err:
            # The keys known so far stay in use; tokens they do not verify are refused.
            log.warning("OIDC signing keys not refreshed: %s", err)
            self._jwks_uri, self._failed_at = None, now
            return
        self._jwks_uri, self._keys, self._loaded_at = uri, tuple(keys), now
        self._failed_at = None

    def _discover(self) -> str:
        url = self._issuer.rstrip("/") + DISCOVERY_PATH
        try:
            document = json.loads(self._fetch(url))
        except ValueError as err:
            raise DocumentError(f"{url} is not JSON") from err
        if not isinstance(document, dict):
            raise DocumentError(f"{url} is not a discovery document")
        if document.get("issuer") != self._issuer:
            # OpenID Connect Discovery 1.0, section 4.3: they must be identical.
            raise DocumentError(f"{url} names another issuer")
        uri = document.get("jwks_uri")
        if not isinstance(uri, str):
            raise DocumentError(f"{url} has no jwks_uri")
        parts = urlsplit(uri)
        issuer_scheme = urlsplit(self._issuer).scheme
        if parts.scheme not in {"https", issuer_scheme} or not parts.hostname:
            raise DocumentError(f"{url}: jwks_uri must be https (or the issuer's own scheme)")
        return uri
