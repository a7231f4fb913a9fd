"""A SASL_SSL listener beside the plaintext one, in the broker's properties."""

from __future__ import annotations

from pathlib import Path

from deploy.kafka import SaslListener, render_server_properties


def _properties(text: str) -> dict[str, str]:
    return dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)


def test_without_sasl_only_plaintext_and_the_controller_listen() -> None:
    props = _properties(render_server_properties(port=1, controller_port=2, log_dirs=Path("/l")))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1"
    assert "sasl.enabled.mechanisms" not in props


def test_a_sasl_listener_is_tls_with_scram() -> None:
    listener = SaslListener(keystore_pem=Path("/k/broker.pem"), users={"keepline": "pw"})
    props = _properties(
        render_server_properties(port=1, controller_port=2, log_dirs=Path("/l"), sasl=(3, listener))
    )
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:1,SASL_SSL://127.0.0.1:3,CONTROLLER://127.0.0.1:2"
    )
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:1,SASL_SSL://127.0.0.1:3"
    assert props["listener.security.protocol.map"].endswith(",SASL_SSL:SASL_SSL")
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.sasl_ssl.ssl.keystore.type"] == "PEM"
    assert props["listener.name.sasl_ssl.ssl.keystore.location"] == "/k/broker.pem"
    assert "ScramLoginModule" in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert "pw" not in props.values()  # SCRAM users live in the metadata log, not here
