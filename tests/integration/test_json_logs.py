"""`keepline serve` with KEEPLINE_LOG_FORMAT=json: one JSON object per line, no personal data.

A real service on real Kafka and MinIO stores an item, dead-letters a bad one, serves
content, erases a subject and refuses unknown callers; every line it wrote meanwhile must
be a JSON object with the contract's fields, and none may hold a subject id, an address,
a staff member's e-mail address or a bearer token.
"""

from __future__ import annotations

import json
import uuid

from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.keepline_service import TOKENS, wait_for
from tests.integration.retention_support import artefact, ingest

FIELDS = {"at", "level", "logger", "message"}


def test_json_logs_are_one_object_per_line_without_personal_data(
    keepline_factory: KeeplineFactory,
) -> None:
    service = keepline_factory(env={"KEEPLINE_LOG_FORMAT": "json"})
    ident = uuid.uuid4().hex[:10]
    subject, staff = f"subject-{ident}", f"staff-{ident}"
    good = artefact("chat", subject=subject, staff=staff)
    item = ingest(service, good)

    # an event without its time: dead-lettered as invalid, and logged
    bad = artefact("call_recording", subject=subject, staff=staff)
    del bad["occurred_at"]
    service.publish("calls", bad, key=bad["event_id"].encode())
    with service.client("admin") as http:
        wait_for(
            lambda: http.get("/v1/dead-letters").json()["dead_letters"],
            timeout_s=60,
            what="the dead letter",
        )
    with service.client("legal") as http:
        assert http.get(f"/v1/items/{item['item_id']}/content").status_code == 200
    with service.client("privacy") as http:
        erased = http.post(f"/v1/subjects/{subject}/erasure").json()
    # kept for its legal-obligation purpose under the shipped policy, or erased: answered
    assert item["item_id"] in [*erased["erased"], *(r["item_id"] for r in erased["retained"])]
    forged = "forged-" + ident
    with service.client(None) as anonymous:
        assert anonymous.get("/v1/items").status_code == 401
        unknown = anonymous.get("/v1/items", headers={"Authorization": f"Bearer {forged}"})
        assert unknown.status_code == 401
    service.stop()

    lines = [line for line in service.log_path.read_text("utf-8").splitlines() if line.strip()]
    assert len(lines) >= 3, lines
    records = []
    for line in lines:
        record = json.loads(line)  # a line that is not JSON fails here, naming itself
        assert isinstance(record, dict), line
        assert set(record) >= FIELDS, line
        records.append(record)
    assert any(r["message"] == "keepline stopped" for r in records)
    # what happened is logged by item and event id, the ids people search logs for
    assert any(item["item_id"] in json.dumps(r) for r in records)
    assert any("dead letter" in r["message"] and bad["event_id"] in r["message"] for r in records)
    personal = {
        subject,
        staff,
        f"{staff}@example.co.uk",
        good["parties"][0]["address"],
        bad["parties"][0]["address"],
        forged,
        *TOKENS.values(),
    }
    text = service.log_path.read_text("utf-8")
    for value in personal:
        assert value not in text, f"{value!r} is in the log"
