import hashlib
import re
import xml.etree.ElementTree as ET

import pytest

from deploy.errors import ToolMissingError
from deploy.kafka import (
    KAFKA_VERSION,
    LOG4J_CONFIG,
    LOG4J_VERSION,
    SCALA_BINARY_VERSION,
    KafkaProcess,
    fetch_kafka,
    new_cluster_id,
    render_pom,
    render_server_properties,
)

POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _parse(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_kafka_version_is_a_pinned_4x_release() -> None:
    assert re.fullmatch(r"4\.\d+\.\d+", KAFKA_VERSION)


def test_server_properties_describe_one_kraft_node_on_loopback(tmp_path) -> None:
    props = _parse(
        render_server_properties(
            port=19092, controller_port=19093, log_dirs=tmp_path / "kraft", num_partitions=3
        )
    )
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["log.dirs"] == str(tmp_path / "kraft")
    assert props["num.partitions"] == "3"
    assert props["auto.create.topics.enable"] == "true"
    assert props["group.initial.rebalance.delay.ms"] == "0"


@pytest.mark.parametrize(
    "key",
    [
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "default.replication.factor",
    ],
)
def test_single_node_replication_settings_are_one(tmp_path, key: str) -> None:
    props = _parse(render_server_properties(port=1, controller_port=2, log_dirs=tmp_path))
    assert props[key] == "1"


def test_num_partitions_defaults_to_one(tmp_path) -> None:
    props = _parse(render_server_properties(port=1, controller_port=2, log_dirs=tmp_path))
    assert props["num.partitions"] == "1"


def test_pom_pins_kafka_and_adds_the_log4j2_slf4j2_binding() -> None:
    root = ET.fromstring(render_pom())  # noqa: S314 - our own template
    deps = {
        d.findtext("m:artifactId", namespaces=POM_NS): d.findtext("m:version", namespaces=POM_NS)
        for d in root.iterfind("m:dependencies/m:dependency", POM_NS)
    }
    assert deps[f"kafka_{SCALA_BINARY_VERSION}"] == KAFKA_VERSION
    assert deps["log4j-core"] == LOG4J_VERSION
    assert deps["log4j-slf4j2-impl"] == LOG4J_VERSION
    assert deps["slf4j-api"].startswith("2.")


def test_log4j2_config_writes_a_file_in_the_log_dir() -> None:
    root = ET.parse(LOG4J_CONFIG).getroot()  # noqa: S314 - our own file
    appender = root.find("Appenders/RollingFile")
    assert appender is not None
    assert appender.get("fileName", "").startswith("${sys:kafka.logs.dir}/")


def test_cluster_ids_look_like_kafkas() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
        assert not cluster_id.startswith("-")


def test_kafka_process_picks_two_distinct_free_ports(tmp_path) -> None:
    kafka = KafkaProcess(tmp_path)
    assert kafka.port != kafka.controller_port
    assert kafka.bootstrap == f"127.0.0.1:{kafka.port}"
    assert not kafka.running


def test_fetch_is_instant_when_the_marker_matches_the_pom(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "")  # neither java nor mvn: any fetch would fail
    home = tmp_path / f"kafka-{KAFKA_VERSION}"
    (home / "libs").mkdir(parents=True)
    digest = hashlib.sha256(render_pom().encode()).hexdigest()
    (home / ".provisioned").write_text(digest + "\n")
    assert fetch_kafka(tmp_path).libs == home / "libs"


def test_a_changed_pom_fetches_again(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "")
    home = tmp_path / f"kafka-{KAFKA_VERSION}"
    (home / "libs").mkdir(parents=True)
    (home / ".provisioned").write_text("digest of an older pom\n")
    with pytest.raises(ToolMissingError, match="java"):
        fetch_kafka(tmp_path)
