"""A token of a reader role the policy declares (SPEC section 4), on the real stack.

The role behaves as qa does: it lists, reads and plays only items of the purposes the
policy lets it use, naming one; every other route is refused; its reads are audited
under its principal.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from tests.integration.ingest_support import all_items, chat_event
from tests.integration.keepline_service import KeeplineService, token_setting, wait_for
from tests.integration.retention_support import audit_actions

POLICY = """
reader_roles: [trainers]
purposes:
  coaching: {basis: legitimate_interests, retention: P30D, roles: [trainers, qa]}
  legal:    {basis: legal_obligation,     retention: P5Y,  roles: [legal]}
rules:
  - match: {type: chat, attributes: {desk: coaching}}
    purposes: [coaching, legal]
  - match: {}
    purposes: [legal]
"""
TRAINER_TOKEN = "it-trainer-token"


def test_a_reader_role_token_sees_only_the_purposes_the_policy_gives_it(
    keepline_factory: Callable[..., KeeplineService],
) -> None:
    service = keepline_factory(
        policy_text=POLICY,
        env={"KEEPLINE_API_TOKENS": f"{token_setting()},{TRAINER_TOKEN}:trainers:coach-7"},
    )
    coached = chat_event("reader-1", b"coach me", attributes={"desk": "coaching"})
    other = chat_event("reader-2", b"not for coaching", attributes={"desk": "sales"})
    service.publish("chats", coached, key=b"conv-r1")
    service.publish("chats", other, key=b"conv-r2")
    with service.client("legal") as legal:
        found = wait_for(
            lambda: (items := all_items(legal)) and len(items) == 2 and items,
            timeout_s=60,
            what="both chats stored",
        )
    ids = {i["event_id"]: i["item_id"] for i in found}

    headers = {"Authorization": f"Bearer {TRAINER_TOKEN}"}
    with service.client() as http:
        http.headers.update(headers)
        listed = http.get("/v1/items", params={"purpose": "coaching"})
        assert listed.status_code == 200, listed.text
        assert [i["item_id"] for i in listed.json()["items"]] == [ids["reader-1"]]
        content = http.get(f"/v1/items/{ids['reader-1']}/content", params={"purpose": "coaching"})
        assert content.status_code == 200, content.text
        assert content.content == base64.b64decode(coached["content_inline"]["data_b64"])
        hidden = http.get(f"/v1/items/{ids['reader-2']}", params={"purpose": "coaching"})
        assert hidden.status_code == 404
        unnamed = http.get("/v1/items")
        assert (unnamed.status_code, unnamed.json()["field"]) == (422, "purpose")
        assert http.get("/v1/items", params={"purpose": "legal"}).status_code == 403
        assert http.get("/v1/holds").status_code == 403
        assert http.get("/v1/audit").status_code == 403
        assert http.get("/v1/policy").json()["reader_roles"] == ["trainers"]
    with service.client() as anonymous:
        anonymous.headers.update({"Authorization": "Bearer not-a-token"})
        assert anonymous.get("/v1/items", params={"purpose": "coaching"}).status_code == 401
    reads = [e for e in audit_actions(service, "content.read") if e["item_id"] == ids["reader-1"]]
    assert [e["actor"] for e in reads] == ["coach-7"]
