"""The API's response shapes: each presenter gives the documented fields, as JSON values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from api.presenters import (
    audit_json,
    checkpoint_json,
    consent_json,
    dead_letter_json,
    erasure_json,
    hold_json,
    objection_json,
    rectification_json,
    restriction_json,
)
from policies.models import HoldCriteria
from service.disclosures.models import Recipient
from service.subjects.models import (
    ConsentResult,
    ErasureResult,
    ObjectionResult,
    RestrictionResult,
    RetainedItem,
)
from service.subjects.rectification import RectificationResult, RectifiedItem
from storage.models import AuditCheckpoint, AuditEntry, Change, HoldRecord
from storage.sql.dead_letters import DeadLetterRecord

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
T1 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
RECIPIENT = Recipient("regulator", "d-1", "ref-7", ("i-1", "i-2"))
RECIPIENT_JSON = {
    "recipient": "regulator",
    "disclosure_id": "d-1",
    "reference": "ref-7",
    "item_ids": ["i-1", "i-2"],
}


def _is_json(body: dict[str, object]) -> None:
    assert json.loads(json.dumps(body)) == body


def test_hold_json_gives_the_hold_fields_and_counts() -> None:
    hold = HoldRecord(
        hold_id="h-1",
        matter="M-1",
        description="d",
        criteria=HoldCriteria(subject_ids=frozenset({"cust-1"})),
        created_by="legal-user",
        created_at=T0,
        released_at=T1,
        released_by="legal-lead",
        matched=3,
        release_reason="settled",
        flags_pending=2,
    )
    body = hold_json(hold)
    assert body == {
        "hold_id": "h-1",
        "matter": "M-1",
        "description": "d",
        "criteria": {"subject_ids": ["cust-1"]},
        "created_by": "legal-user",
        "created_at": T0.isoformat(),
        "released_at": T1.isoformat(),
        "released_by": "legal-lead",
        "release_reason": "settled",
        "active": False,
        "matched": 3,
        "flags_pending": 2,
    }
    _is_json(body)


def test_an_active_hold_shows_no_release() -> None:
    hold = HoldRecord(
        hold_id="h-2",
        matter="M-2",
        description=None,
        criteria=HoldCriteria(staff_ids=frozenset({"agent-1"})),
        created_by="legal-user",
        created_at=T0,
        released_at=None,
        released_by=None,
        matched=0,
    )
    body = hold_json(hold)
    assert (body["active"], body["released_at"], body["release_reason"]) == (True, None, None)


def test_audit_json_and_checkpoint_json_match_their_canonical_forms() -> None:
    entry = AuditEntry(7, T0, "sweeper", "item.destroyed", "i-1", {"n": 1}, "0" * 64, "a" * 64)
    assert audit_json(entry) == entry.as_record()
    assert sorted(audit_json(entry)) == sorted(
        ["seq", "at", "actor", "action", "item_id", "details", "prev_hash", "hash"]
    )
    checkpoint = AuditCheckpoint(seq=7, hash="a" * 64, at=T1, kid="k-1", signature="sig")
    assert checkpoint_json(checkpoint) == {
        "seq": 7,
        "hash": "a" * 64,
        "at": T1.isoformat(),
        "kid": "k-1",
        "signature": "sig",
    }
    assert checkpoint_json(checkpoint) == checkpoint.as_record()


def test_dead_letter_json_gives_where_and_why() -> None:
    letter = DeadLetterRecord(
        failed_at=T0,
        reason="schema_violation",
        error="bad",
        topic="comms.calls",
        partition=1,
        offset=9,
        event_id="e-1",
    )
    assert dead_letter_json(letter) == {
        "reason": "schema_violation",
        "error": "bad",
        "topic": "comms.calls",
        "partition": 1,
        "offset": 9,
        "event_id": "e-1",
        "source": None,
        "failed_at": T0.isoformat(),
    }
    assert dead_letter_json(letter) == letter.as_record()


def test_subject_answers_give_the_documented_fields() -> None:
    consent = ConsentResult("c1", "marketing", False, Change.CHANGED, ("i-1",))
    assert consent_json(consent) == {
        "subject_id": "c1",
        "purpose": "marketing",
        "granted": False,
        "changed": True,
        "items_changed": ["i-1"],
    }
    objection = ObjectionResult("c1", None, ("legal",), ())
    assert objection_json(objection) == {
        "subject_id": "c1",
        "purposes": None,
        "ignored": ["legal"],
        "items_changed": [],
    }
    assert objection_json(ObjectionResult("c1", ("quality",), (), ()))["purposes"] == ["quality"]
    restriction = RestrictionResult("c1", True, Change.KEPT, T1, (RECIPIENT,))
    assert restriction_json(restriction) == {
        "subject_id": "c1",
        "restricted": True,
        "changed": False,
        "lifting_at": T1.isoformat(),
        "recipients_to_inform": [RECIPIENT_JSON],
    }
    assert restriction_json(RestrictionResult("c1", False, Change.CHANGED))["lifting_at"] is None


def test_erasure_json_is_the_recorded_outcome() -> None:
    result = ErasureResult(
        "r-1",
        "c1",
        ("i-1",),
        (
            RetainedItem("i-2", "legal_hold:M-1", True, ("quality",), ()),
            RetainedItem("i-3", "legal_obligation:legal", False, (), ("legal",)),
        ),
        (RECIPIENT,),
    )
    body = erasure_json(result)
    assert body == {
        "request_id": "r-1",
        "subject_id": "c1",
        "erased": ["i-1"],
        "retained": [
            {
                "item_id": "i-2",
                "reason": "legal_hold:M-1",
                "dropped_purposes": ["quality"],
                "kept_purposes": [],
            },
            {
                "item_id": "i-3",
                "reason": "legal_obligation:legal",
                "dropped_purposes": [],
                "kept_purposes": ["legal"],
            },
        ],
        "deferred": ["i-2"],
        "recipients_to_inform": [RECIPIENT_JSON],
    }
    assert body == result.as_record()
    _is_json(body)


def test_rectification_json_gives_each_item_change_and_whom_to_tell() -> None:
    before = ({"address": "+1", "role": "caller", "subject_id": "c1", "display_name": None},)
    after = ({"address": "+1", "role": "caller", "subject_id": "c2", "display_name": "B"},)
    result = RectificationResult(
        "c1",
        "c2",
        (RectifiedItem("i-1", before, after, ("quality",), ("marketing",), ("h-1",)),),
        (RECIPIENT,),
    )
    body = rectification_json(result)
    assert body == {
        "subject_id": "c1",
        "new_subject_id": "c2",
        "items": [
            {
                "item_id": "i-1",
                "before": list(before),
                "after": list(after),
                "purposes_added": ["quality"],
                "purposes_removed": ["marketing"],
                "holds_added": ["h-1"],
            }
        ],
        "recipients_to_inform": [RECIPIENT_JSON],
    }
    assert body == result.as_record()
    _is_json(body)
