"""One KafkaSecurity for every client: usable settings, verified TLS, secrets kept secret."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest
from pydantic import SecretStr, ValidationError

from streams.kafka_security import PLAINTEXT, KafkaSecurity, SaslMechanism, SecurityProtocol
from streams.settings import StreamSettings

SASL = KafkaSecurity(
    protocol=SecurityProtocol.SASL_PLAINTEXT,
    mechanism=SaslMechanism.SCRAM_SHA_512,
    username="keepline",
    password=SecretStr("pw-123"),
)


def test_plaintext_is_the_default_and_needs_nothing() -> None:
    assert StreamSettings().kafka_security() == PLAINTEXT
    assert PLAINTEXT.problems() == []
    assert PLAINTEXT.client_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert PLAINTEXT.faust_credentials() is None


def test_sasl_gives_every_client_the_same_credentials() -> None:
    assert SASL.problems() == []
    assert SASL.client_kwargs() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "keepline",
        "sasl_plain_password": "pw-123",
    }
    credentials = SASL.faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "keepline"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert "pw-123" not in repr(credentials)
    assert "pw-123" not in SASL.describe()
    assert "pw-123" not in repr(SASL)


def test_tls_verifies_the_broker_and_its_name() -> None:
    tls = KafkaSecurity(protocol=SecurityProtocol.SSL)
    context = tls.ssl_context()
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert isinstance(tls.faust_credentials(), faust.SSLCredentials)
    assert tls.client_kwargs()["ssl_context"] is not None


@pytest.mark.parametrize(
    ("security", "says"),
    [
        (KafkaSecurity(protocol=SecurityProtocol.SASL_SSL), "needs KEEPLINE_KAFKA_SASL_MECHANISM"),
        (
            KafkaSecurity(
                protocol=SecurityProtocol.SASL_SSL,
                mechanism=SaslMechanism.PLAIN,
                username="keepline",
            ),
            "needs KEEPLINE_KAFKA_SASL_PASSWORD",
        ),
        (KafkaSecurity(username="keepline"), "SASL settings are set but"),
        (KafkaSecurity(cafile=Path("/etc/hostname")), "TLS files are set but"),
        (
            KafkaSecurity(protocol=SecurityProtocol.SSL, certfile=Path("/etc/hostname")),
            "go together",
        ),
        (
            KafkaSecurity(protocol=SecurityProtocol.SSL, cafile=Path("/no/such/ca.pem")),
            "is not a readable file",
        ),
    ],
)
def test_unusable_settings_say_what_to_set(security: KafkaSecurity, says: str) -> None:
    assert any(says in problem for problem in security.problems())


def test_settings_refuse_a_half_configured_sasl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KEEPLINE_KAFKA_SASL_PASSWORD", "never-shown")
    with pytest.raises(ValidationError) as refused:
        StreamSettings()
    assert "KEEPLINE_KAFKA_SASL_USERNAME" in str(refused.value)
    assert "never-shown" not in str(refused.value)


def test_settings_build_the_security_they_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEPLINE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KEEPLINE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KEEPLINE_KAFKA_SASL_USERNAME", "keepline")
    monkeypatch.setenv("KEEPLINE_KAFKA_SASL_PASSWORD", "pw-123")
    assert StreamSettings().kafka_security() == SASL
