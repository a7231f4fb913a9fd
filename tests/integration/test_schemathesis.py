"""Fuzzing the running API from its own OpenAPI document (schemathesis, bounded).

One `keepline serve` with a stored item, then one schemathesis run against /openapi.json
as a caller holding every role (an OIDC token listing them all), so every operation is
reached past authorisation: no response may be a 5xx, and every response must match the
document (status declared, content type, headers and body schema). Which role may call
which route is the role matrix's test (test_api_roles.py).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

from tests.integration.auth_support import key_pair, oidc_env, signed_jwt
from tests.integration.ingest_support import example
from tests.integration.keepline_service import ROLES, KeeplineService, wait_for

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
)
MAX_EXAMPLES = 15
RUN_TIMEOUT_S = 150


def _schemathesis(
    service: KeeplineService, token: str, report: Path
) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{service.url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        # One worker: hypothesis parses lambda sources, which races in threads on 3.11.
        "--workers",
        "1",
        "--seed",
        "20261121",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]
    return subprocess.run(  # noqa: S603 - our own tool with fixed arguments
        command,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
        cwd=report.parent,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"},
    )


def test_the_api_survives_fuzzing_and_matches_its_schema(
    keepline_factory: Callable[..., KeeplineService],
    content_server: Callable[[bytes], str],
    tmp_path: Path,
) -> None:
    key, pem = key_pair()
    service = keepline_factory(env=oidc_env(pem))
    data = os.urandom(3000)
    event = example("call_recording")
    event["content"] = {
        "uri": content_server(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": "audio/wav",
    }
    service.publish("calls", event, key=b"c-fuzz")
    with service.client("legal") as http:
        wait_for(lambda: http.get("/v1/items").json()["items"], what="an item to fuzz around")
    with service.client() as http:
        operations = sum(len(ops) for ops in http.get("/openapi.json").json()["paths"].values())
    # Valid for longer than the run may take.
    token = signed_jwt(key, ROLES, lifetime_s=2 * RUN_TIMEOUT_S)
    with service.client() as http:
        http.headers["Authorization"] = f"Bearer {token}"
        assert http.get("/v1/me").json()["roles"] == sorted(ROLES)
    report = tmp_path / "junit.xml"
    result = _schemathesis(service, token, report)
    assert result.returncode == 0, f"{result.stdout[-6000:]}\n{service.log_tail(40)}"
    # The run really exercised every operation of the document.
    suite = ElementTree.parse(report).getroot()  # noqa: S314 - our own run's report
    assert int(suite.get("tests", "0")) == operations, result.stdout[-2000:]
    # Still healthy after the fuzzing.
    with service.client() as http:
        assert http.get("/readyz").status_code == 200
