"""How keepline authenticates to Kafka and encrypts the connection: one value for every client.

The stream worker (faust), the API's and the audit publisher's producers and the admin client
that creates topics all connect with the same `KafkaSecurity`, so a broker that requires TLS
and SASL is reached the same way by each, and no client is left on plaintext by accident.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import faust
from faust.types.auth import CredentialsT
from pydantic import SecretStr


class SecurityProtocol(StrEnum):
    """Kafka's `security.protocol`: whether the connection is encrypted and authenticated."""

    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"

    @property
    def uses_tls(self) -> bool:
        """Whether the connection is encrypted (and the broker's certificate verified)."""
        return self in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)

    @property
    def uses_sasl(self) -> bool:
        """Whether the client authenticates with a user name and password."""
        return self in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL)


class SaslMechanism(StrEnum):
    """The SASL mechanisms keepline's clients speak (SCRAM keeps the password off the wire)."""

    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """The security settings of every Kafka client keepline opens.

    Attributes:
        protocol: PLAINTEXT (the local stack), SSL, SASL_PLAINTEXT or SASL_SSL.
        mechanism: The SASL mechanism (with a SASL protocol).
        username: The SASL user (with a SASL protocol).
        password: Its password (with a SASL protocol); never logged or shown.
        cafile: CA certificates the broker's certificate must chain to (TLS); unset: the
            system's trust store.
        certfile: A client certificate (PEM) for brokers that require mutual TLS.
        keyfile: Its private key (PEM); with `certfile`.
        keyfile_password: The key file's password, when it is encrypted.
    """

    protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    mechanism: SaslMechanism | None = None
    username: str | None = None
    password: SecretStr | None = None
    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    keyfile_password: SecretStr | None = None

    def problems(self) -> list[str]:
        """What makes these settings unusable, one line each (empty when they are fine)."""
        found = []
        if self.protocol.uses_sasl:
            if self.mechanism is None:
                found.append(f"{self.protocol} needs KEEPLINE_KAFKA_SASL_MECHANISM")
            if not self.username:
                found.append(f"{self.protocol} needs KEEPLINE_KAFKA_SASL_USERNAME")
            if self.password is None or not self.password.get_secret_value():
                found.append(f"{self.protocol} needs KEEPLINE_KAFKA_SASL_PASSWORD")
        elif self.mechanism or self.username or self.password is not None:
            found.append(
                f"SASL settings are set but KEEPLINE_KAFKA_SECURITY_PROTOCOL is {self.protocol}"
                " (SASL_SSL or SASL_PLAINTEXT uses them)"
            )
        tls_files = (self.cafile, self.certfile, self.keyfile)
        if not self.protocol.uses_tls and any(f is not None for f in tls_files):
            found.append(
                f"TLS files are set but KEEPLINE_KAFKA_SECURITY_PROTOCOL is {self.protocol}"
                " (SSL or SASL_SSL uses them)"
            )
        if (self.certfile is None) != (self.keyfile is None):
            found.append("KEEPLINE_KAFKA_SSL_CERTFILE and KEEPLINE_KAFKA_SSL_KEYFILE go together")
        found += [
            f"{path} is not a readable file"
            for path in tls_files
            if path is not None and not path.is_file()
        ]
        return found

    def ssl_context(self) -> ssl.SSLContext | None:
        """A context that verifies the broker's certificate and host name (TLS only)."""
        if not self.protocol.uses_tls:
            return None
        context = ssl.create_default_context(
            cafile=str(self.cafile) if self.cafile is not None else None
        )
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.certfile is not None and self.keyfile is not None:
            password = self.keyfile_password.get_secret_value() if self.keyfile_password else None
            context.load_cert_chain(str(self.certfile), str(self.keyfile), password=password)
        return context

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for an aiokafka producer, consumer or admin client."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol.value}
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.protocol.uses_sasl:
            assert self.mechanism is not None
            assert self.password is not None
            kwargs["sasl_mechanism"] = self.mechanism.value
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = self.password.get_secret_value()
        return kwargs

    def faust_credentials(self) -> CredentialsT | None:
        """The stream worker's `broker_credentials` (None on plaintext)."""
        context = self.ssl_context()
        if self.protocol.uses_sasl:
            assert self.mechanism is not None
            assert self.password is not None
            return faust.SASLCredentials(
                username=self.username,
                password=self.password.get_secret_value(),
                ssl_context=context,
                mechanism=self.mechanism.value,
            )
        if context is not None:
            return faust.SSLCredentials(context)
        return None

    def describe(self) -> str:
        """How the connection is made, for logs: never the password."""
        if self.protocol.uses_sasl:
            return f"{self.protocol} ({self.mechanism}, user {self.username})"
        return str(self.protocol)


PLAINTEXT = KafkaSecurity()
