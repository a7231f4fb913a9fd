"""The role matrix on a running keepline: every route x every role x no token x a bad token.

Each route gets a realistic request (real item, hold and subject ids, valid bodies), so an
allowed role gets a 2xx and a refused one a 403 that is decided by the role alone.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from api.roles import ROUTE_ROLES
from tests.integration.auth_support import key_pair, oidc_env, signed_jwt
from tests.integration.ingest_support import example, run_cli
from tests.integration.keepline_service import ROLES, KeeplineService, wait_for

SUBJECT = "cust-matrix"


@dataclass(frozen=True)
class World:
    """Ids the requests refer to."""

    item_id: str
    hold_id: str
    release_hold_id: str
    policy_text: str
    review_item_id: str = ""
    production_id: str = ""


Request = tuple[str, dict[str, Any]]


def _events_body() -> dict[str, Any]:
    event = example("chat")
    event["event_id"] = f"matrix-{uuid.uuid4().hex}"
    return event


#: For each route of the matrix: the URL and request arguments of a valid request.
REQUESTS: dict[tuple[str, str], Callable[[World], Request]] = {
    ("POST", "/v1/events"): lambda w: ("/v1/events", {"json": _events_body()}),
    ("GET", "/v1/items"): lambda w: ("/v1/items", {"params": {"purpose": "quality"}}),
    ("GET", "/v1/items/{item_id}"): lambda w: (
        f"/v1/items/{w.item_id}",
        {"params": {"purpose": "quality"}},
    ),
    ("GET", "/v1/items/{item_id}/content"): lambda w: (
        f"/v1/items/{w.item_id}/content",
        {"params": {"purpose": "quality"}},
    ),
    ("POST", "/v1/items/{item_id}/content-url"): lambda w: (
        f"/v1/items/{w.item_id}/content-url",
        {"params": {"purpose": "quality"}},
    ),
    ("GET", "/v1/me"): lambda w: ("/v1/me", {}),
    ("GET", "/v1/signing-keys"): lambda w: ("/v1/signing-keys", {}),
    ("POST", "/v1/holds"): lambda w: (
        "/v1/holds",
        {"json": {"matter": "M-2", "description": "d", "criteria": {"subject_ids": ["x"]}}},
    ),
    ("GET", "/v1/holds"): lambda w: ("/v1/holds", {}),
    ("GET", "/v1/holds/{hold_id}"): lambda w: (f"/v1/holds/{w.hold_id}", {}),
    ("POST", "/v1/holds/{hold_id}/release"): lambda w: (
        f"/v1/holds/{w.release_hold_id}/release",
        {},
    ),
    ("POST", "/v1/holds/preview"): lambda w: (
        "/v1/holds/preview",
        {"json": {"criteria": {"subject_ids": [SUBJECT]}}},
    ),
    ("POST", "/v1/subjects/{subject_id}/erasure"): lambda w: (
        "/v1/subjects/cust-nobody/erasure",
        {},
    ),
    ("GET", "/v1/subjects/{subject_id}/export"): lambda w: (f"/v1/subjects/{SUBJECT}/export", {}),
    ("POST", "/v1/subjects/{subject_id}/restriction"): lambda w: (
        "/v1/subjects/cust-nobody/restriction",
        {"json": {"restricted": False}},
    ),
    ("POST", "/v1/subjects/{subject_id}/objection"): lambda w: (
        "/v1/subjects/cust-nobody/objection",
        {"json": {"purposes": ["quality"]}},
    ),
    ("POST", "/v1/subjects/{subject_id}/consent"): lambda w: (
        "/v1/subjects/cust-nobody/consent",
        {"json": {"purpose": "marketing", "granted": True}},
    ),
    ("GET", "/v1/policy"): lambda w: ("/v1/policy", {}),
    ("PUT", "/v1/policy"): lambda w: (
        "/v1/policy",
        {"content": w.policy_text, "headers": {"Content-Type": "application/yaml"}},
    ),
    ("POST", "/v1/policy/dry-run"): lambda w: (
        "/v1/policy/dry-run",
        {"content": w.policy_text, "headers": {"Content-Type": "application/yaml"}},
    ),
    ("GET", "/v1/dead-letters"): lambda w: ("/v1/dead-letters", {"params": {"limit": 5}}),
    ("GET", "/v1/audit"): lambda w: ("/v1/audit", {"params": {"limit": 5}}),
    ("GET", "/v1/audit/verify"): lambda w: ("/v1/audit/verify", {}),
    ("GET", "/v1/items/{item_id}/retention"): lambda w: (f"/v1/items/{w.item_id}/retention", {}),
    ("GET", "/v1/reviews"): lambda w: ("/v1/reviews", {"params": {"state": "pending"}}),
    ("POST", "/v1/reviews/{item_id}"): lambda w: (
        f"/v1/reviews/{w.review_item_id}",
        {"json": {"decision": "destroy", "justification": "matrix"}},
    ),
    ("POST", "/v1/holds/{hold_id}/productions"): lambda w: (
        f"/v1/holds/{w.hold_id}/productions",
        {},
    ),
    ("GET", "/v1/productions/{production_id}"): lambda w: (
        f"/v1/productions/{w.production_id}",
        {},
    ),
    ("GET", "/v1/productions/{production_id}/download"): lambda w: (
        f"/v1/productions/{w.production_id}/download",
        {},
    ),
    ("GET", "/v1/disposals"): lambda w: ("/v1/disposals", {"params": {"limit": 5}}),
    ("GET", "/v1/disposals/certificate"): lambda w: (
        "/v1/disposals/certificate",
        {"params": {"date": time.strftime("%Y-%m-%d", time.gmtime())}},
    ),
    ("GET", "/v1/fixity/latest"): lambda w: ("/v1/fixity/latest", {}),
    ("POST", "/v1/disclosures"): lambda w: (
        "/v1/disclosures",
        {
            "json": {
                "recipient": "Court",
                "legal_basis": "court order",
                "reference": "CO-1",
                "item_ids": [w.item_id],
                "disclosed_at": "2026-11-30T10:00:00Z",
            }
        },
    ),
    ("GET", "/v1/disclosures"): lambda w: ("/v1/disclosures", {"params": {"subject_id": SUBJECT}}),
    ("POST", "/v1/subjects/{subject_id}/rectification"): lambda w: (
        f"/v1/subjects/{SUBJECT}/rectification",
        {"json": {"item_id": w.item_id, "set": {"display_name": "Matrix"}, "reason": "typo"}},
    ),
    ("GET", "/v1/subjects/{subject_id}/access-report"): lambda w: (
        f"/v1/subjects/{SUBJECT}/access-report",
        {},
    ),
    ("GET", "/v1/audit/checkpoints"): lambda w: ("/v1/audit/checkpoints", {"params": {"limit": 5}}),
}


def _setup(service: KeeplineService, content_server: Callable[[bytes], str]) -> World:
    data = os.urandom(4096)
    call = example("call_recording")
    call.update(event_id="matrix-call", call_id="c-matrix")
    call["parties"][0]["subject_id"] = SUBJECT
    call["attributes"] = {"queue": "support"}
    call["content"] = {
        "uri": content_server(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "content_type": "audio/wav",
    }
    service.publish("calls", call, key=b"c-matrix")
    with service.client("legal") as legal, service.client("admin") as admin:
        items = wait_for(
            lambda: legal.get("/v1/items", params={"subject_id": SUBJECT}).json()["items"],
            what="the recording stored",
        )
        holds = [
            legal.post(
                "/v1/holds",
                json={"matter": m, "description": "", "criteria": {"subject_ids": ["nobody"]}},
            ).json()["hold_id"]
            for m in ("M-read", "M-release")
        ]
        policy_text = admin.get("/v1/policy").json()["text"]
        production = legal.post(f"/v1/holds/{holds[0]}/productions").json()["production_id"]
        wait_for(
            lambda: legal.get(f"/v1/productions/{production}").json()["status"] == "ready",
            what="the production to be ready",
        )
    with service.client("auditor") as auditor:  # the background integrity pass at start-up
        wait_for(lambda: auditor.get("/v1/fixity/latest").is_success, what="a fixity pass")
    review_item_id = _item_in_review(service, policy_text)
    return World(
        items[0]["item_id"],
        holds[0],
        holds[1],
        policy_text,
        review_item_id=review_item_id,
        production_id=production,
    )


def _item_in_review(service: KeeplineService, policy_text: str) -> str:
    """An item awaiting disposition review: a purpose with review: true, expired at ingest."""
    policy = yaml.safe_load(policy_text)
    policy["purposes"]["reviewed"] = {
        "basis": "legal_obligation",
        "retention": "PT1S",
        "roles": ["legal"],
        "review": True,
    }
    policy["rules"].insert(
        0, {"match": {"type": "chat", "attributes": {"kind": "review"}}, "purposes": ["reviewed"]}
    )
    event = _events_body()
    event.update(occurred_at="2020-01-01T00:00:00Z", attributes={"kind": "review"})
    event["parties"][0]["subject_id"] = "cust-matrix-review"
    with service.client("admin") as admin, service.client("legal") as legal:
        activated = admin.put(
            "/v1/policy",
            content=yaml.safe_dump(policy),
            headers={"Content-Type": "application/yaml"},
        )
        assert activated.is_success, activated.text
        service.publish("chats", event, key=event["event_id"].encode())
        (item,) = wait_for(
            lambda: legal.get("/v1/items", params={"subject_id": "cust-matrix-review"}).json()[
                "items"
            ],
            what="the chat to review stored",
        )
        swept = run_cli(service, "sweep")
        assert swept.returncode == 0, swept.stderr
        wait_for(
            lambda: legal.get(f"/v1/items/{item['item_id']}").json()["status"] == "awaiting_review",
            what="the chat to await review",
        )
    return str(item["item_id"])


def test_every_route_every_role_no_token_and_a_bad_token(
    keepline_factory: Callable[..., KeeplineService], content_server: Callable[[bytes], str]
) -> None:
    key, pem = key_pair()
    service = keepline_factory(env=oidc_env(pem))
    world = _setup(service, content_server)
    assert set(REQUESTS) == set(ROUTE_ROLES), "a route of the matrix has no request here"
    callers: dict[str, dict[str, str]] = {role: {} for role in ROLES}
    callers["(no token)"] = {"Authorization": ""}
    callers["(unknown token)"] = {"Authorization": "Bearer not-a-token"}
    callers["(forged jwt)"] = {"Authorization": f"Bearer {signed_jwt(key_pair()[0], 'legal')}"}
    cells: dict[tuple[str, str, str], int] = {}
    for (method, template), build in sorted(REQUESTS.items()):
        allowed = ROUTE_ROLES[(method, template)]
        url, kwargs = build(world)
        for caller, headers in callers.items():
            role = caller if caller in ROLES else None
            with service.client(role) as http:
                if "Authorization" in headers:
                    http.headers.pop("Authorization", None)
                    if headers["Authorization"]:
                        http.headers["Authorization"] = headers["Authorization"]
                response = http.request(method, url, **kwargs)
            cells[(method, template, caller)] = response.status_code
            where = (method, template, caller, response.status_code, response.text[:300])
            if role is None:
                assert response.status_code == 401, where
                assert response.json()["error"] == "UnauthenticatedError", where
            elif role in allowed:
                assert response.is_success, where
            else:
                assert response.status_code == 403, where
                assert response.json()["error"] == "ForbiddenError", where
    assert len(cells) == len(ROUTE_ROLES) * len(callers)

    # The same matrix holds for OIDC callers: a legal JWT works where legal does.
    with service.client() as http:
        http.headers["Authorization"] = f"Bearer {signed_jwt(key, 'legal')}"
        assert http.get("/v1/holds").status_code == 200
        assert http.get("/v1/audit").status_code == 403
        http.headers["Authorization"] = (
            f"Bearer {signed_jwt(key, 'legal', exp=int(time.time()) - 60)}"
        )
        assert http.get("/v1/holds").status_code == 401
        http.headers["Authorization"] = f"Bearer {signed_jwt(key, 'auditor')}"
        assert http.get("/v1/audit/verify").json()["ok"] is True


def test_items_a_qa_caller_may_not_see_are_404_not_403(
    keepline_factory: Callable[..., KeeplineService], content_server: Callable[[bytes], str]
) -> None:
    service = keepline_factory()
    data = os.urandom(2048)
    shown, restricted = "cust-shown", "cust-restricted"
    for subject in (shown, restricted):
        call = example("call_recording")
        call.update(event_id=f"qa-{subject}", call_id=f"c-{subject}")
        call["parties"][0]["subject_id"] = subject
        call["content"] = {
            "uri": content_server(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_bytes": len(data),
            "content_type": "audio/wav",
        }
        service.publish("calls", call, key=call["call_id"].encode())
    email = example("email")
    email.pop("content")  # metadata only; its only purpose is legal
    service.publish("emails", email, key=b"mail")
    with service.client("legal") as legal:
        items = wait_for(
            lambda: (found := legal.get("/v1/items").json()["items"]) and len(found) == 3 and found,
            what="three items stored",
        )
    by_subject = {
        p["subject_id"]: i["item_id"] for i in items for p in i["parties"] if p.get("subject_id")
    }
    with service.client("privacy") as privacy:
        assert privacy.post(
            f"/v1/subjects/{restricted}/restriction", json={"restricted": True}
        ).is_success
    email_id = next(i["item_id"] for i in items if i["type"] == "email")
    with service.client("qa") as qa:
        absent = qa.get("/v1/items/no-such-item", params={"purpose": "quality"})
        assert absent.status_code == 404
        for hidden in (by_subject[restricted], email_id):
            for suffix in ("", "/content"):
                response = qa.get(f"/v1/items/{hidden}{suffix}", params={"purpose": "training"})
                assert response.status_code == 404, (hidden, suffix)
                assert response.json() == absent.json()
        visible = qa.get(f"/v1/items/{by_subject[shown]}/content", params={"purpose": "training"})
        assert (visible.status_code, visible.content) == (200, data)
        listed = qa.get("/v1/items", params={"purpose": "training"}).json()["items"]
        assert [i["item_id"] for i in listed] == [by_subject[shown]]
        # Asking for a purpose that is not qa's is a 403 whatever the item.
        assert qa.get("/v1/items", params={"purpose": "legal"}).status_code == 403
    with service.client("legal") as legal:
        seen = legal.get(f"/v1/items/{by_subject[restricted]}").json()
        assert seen["restricted"] is True
