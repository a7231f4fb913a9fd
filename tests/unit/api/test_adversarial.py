"""Hostile requests: fuzzed Range and cursor values, oversized bodies, hostile content types,
NUL bytes in query and path values, and metrics label cardinality.

Every answer must be a deliberate 2xx/4xx in the error shape of api/errors.py, quickly;
never a 5xx, never a header built from what a client or producer sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.body_limit import DEFAULT_BODY_BYTES
from api.routes.events import MAX_EVENT_BODY_BYTES
from api.routes.holds import MAX_CRITERIA_VALUES
from api.routes.policy import MAX_POLICY_BYTES
from api.routes.subjects import MAX_OBJECTION_PURPOSES
from service.ingest.models import MAX_INLINE_BYTES
from tests.unit.api.conftest import Harness

#: Generous bound for one in-process request: only catches pathological (super-linear) work.
QUICK_S = 2.0
_ERROR_KEYS = {"error", "detail", "field", "errors"}


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


def _assert_error(response: httpx.Response, status: int, field: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) <= _ERROR_KEYS
    assert body["field"] == field, body
    assert field in body["detail"]


# --- Range --------------------------------------------------------------------------------

PATHOLOGICAL_RANGES = [
    "bytes=" + " " * 4000 + "-" + " " * 4000 + "x",
    "bytes=" + "\t" * 4000 + "-" + "\t" * 4000 + "x",
    "bytes=0" + " " * 4000 + "-" + " " * 4000 + "1x",
]


@pytest.mark.parametrize("header", PATHOLOGICAL_RANGES, ids=range(len(PATHOLOGICAL_RANGES)))
async def test_a_pathological_range_is_ignored_at_once(harness: Harness, header: str) -> None:
    data = b"recorded words " * 10
    item_id = await harness.add_content(data)
    async with harness.client("legal") as http:
        started = time.perf_counter()
        response = await http.get(f"/v1/items/{item_id}/content", headers={"Range": header})
        elapsed_s = time.perf_counter() - started
    assert elapsed_s < QUICK_S
    assert (response.status_code, response.content) == (200, data)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    header=st.one_of(
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300),
        st.lists(
            st.sampled_from(["bytes", "=", "-", ",", " ", "\t", "0", "7", "99", "x", "*"]),
            max_size=80,
        ).map("".join),
    )
)
async def test_any_range_header_is_200_206_or_416(harness: Harness, header: str) -> None:
    item_id = await harness.shared_content_item(b"0123456789" * 10)
    async with harness.client("legal") as http:
        response = await http.get(f"/v1/items/{item_id}/content", headers={"Range": header})
    assert response.status_code in {200, 206, 416}, (header, response.status_code)
    if response.status_code == 416:
        assert response.headers["content-range"] == "bytes */100"


# --- cursors ------------------------------------------------------------------------------

FORGED_CURSORS = [
    _cursor("0001-01-01T00:00:00+01:00|x"),  # before year 1 in UTC: OverflowError
    _cursor("9999-12-31T23:59:59-14:00|x"),  # after year 9999 in UTC
    _cursor("2026-01-01T00:00:00+00:00|a\x00b"),  # NUL reaches PostgreSQL
    _cursor("2026-01-01T00:00:00+00:00|a\nb"),
    _cursor("2026-01-01T00:00:00+00:00|"),
    _cursor("2026-01-01T00:00:00+00:00|" + "x" * 101),
    _cursor("2026-01-01T00:00:00|x"),
    _cursor("2026-01-01T00:00:00+00:00"),
    _cursor("not a time|x"),
    base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
    "AAAA\x00",
    "!!!!",
    "MjAy Ni0w",
    "%00",
]


@pytest.mark.parametrize("cursor", FORGED_CURSORS, ids=range(len(FORGED_CURSORS)))
async def test_a_forged_cursor_is_422_naming_the_cursor(harness: Harness, cursor: str) -> None:
    async with harness.client("legal") as http:
        response = await http.get("/v1/items", params={"cursor": cursor})
    _assert_error(response, 422, "cursor")


_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    cursor=st.one_of(
        st.binary(min_size=1, max_size=200).map(lambda b: base64.urlsafe_b64encode(b).decode()),
        st.builds(
            lambda at, item: _cursor(f"{at.isoformat()}|{item}"),
            st.one_of(
                st.datetimes(timezones=st.timezones()),
                # Next to the ends of the calendar, where converting to UTC overflows.
                st.datetimes(max_value=datetime(1, 1, 2), timezones=_OFFSETS),
                st.datetimes(min_value=datetime(9999, 12, 30), timezones=_OFFSETS),
            ),
            st.text(max_size=120),
        ),
        st.text(min_size=1, max_size=200),
    )
)
async def test_any_cursor_is_a_page_or_422(harness: Harness, cursor: str) -> None:
    async with harness.client("legal") as http:
        response = await http.get("/v1/items", params={"cursor": cursor})
    assert response.status_code in {200, 422}, (cursor, response.text)
    if response.status_code == 422:
        assert response.json()["field"] == "cursor"


async def test_cursors_the_api_returns_still_page(harness: Harness) -> None:
    made = [await harness.add_item() for _ in range(3)]
    async with harness.client("legal") as http:
        first = (await http.get("/v1/items", params={"limit": 2})).json()
        rest = await http.get("/v1/items", params={"limit": 2, "cursor": first["next_cursor"]})
    assert rest.status_code == 200
    listed = [i["item_id"] for i in first["items"] + rest.json()["items"]]
    assert sorted(listed) == sorted(made)


# --- NUL and control characters in query and path values -----------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"subject_id": "cust\x00"}, "subject_id"),
        ({"staff_id": "\x00"}, "staff_id"),
        ({"purpose": "legal\x00"}, "purpose"),
        ({"attr.queue": "sales\x00"}, "attr.queue"),
        ({"attr.qu\x00eue": "sales"}, "attr.qu\x00eue"),
        ({"type": "chat\x00"}, "type"),
        ({"since": "2026-01-01T00:00:00Z\x00"}, "since"),
        ({"cursor": _cursor("2026-01-01T00:00:00+00:00|\x00")}, "cursor"),
    ],
)
async def test_nul_in_a_query_value_is_422_naming_it(
    harness: Harness, params: dict[str, str], field: str
) -> None:
    async with harness.client("legal") as http:
        response = await http.get("/v1/items", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.parametrize(
    ("role", "method", "path", "field"),
    [
        ("legal", "GET", "/v1/items/a%00b", "item_id"),
        ("legal", "GET", "/v1/items/a%00b/content", "item_id"),
        ("legal", "GET", "/v1/items/a%0Ab", "item_id"),
        ("legal", "GET", "/v1/holds/a%00b", "hold_id"),
        ("legal", "POST", "/v1/holds/a%00b/release", "hold_id"),
        ("privacy", "POST", "/v1/subjects/a%00b/erasure", "subject_id"),
        ("privacy", "GET", "/v1/subjects/a%00b/export", "subject_id"),
        ("privacy", "POST", "/v1/subjects/%00/restriction", "subject_id"),
    ],
)
async def test_nul_in_a_path_value_is_422_naming_it(
    harness: Harness, role: str, method: str, path: str, field: str
) -> None:
    body = {"restricted": True} if path.endswith("restriction") else None
    async with harness.client(role) as http:
        response = await http.request(method, path, json=body)
    _assert_error(response, 422, field)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/subjects/s-1/consent", {"purpose": "marketing\x00", "granted": False}, "purpose"),
        ("/v1/subjects/s-1/objection", {"purposes": ["quality\x00"]}, "purposes.0"),
    ],
)
async def test_nul_in_a_subject_rights_body_is_422(
    harness: Harness, path: str, body: dict[str, Any], field: str
) -> None:
    async with harness.client("privacy") as http:
        response = await http.post(path, json=body)
    _assert_error(response, 422, field)


# --- bodies and lists ---------------------------------------------------------------------


def _chat_event(data: bytes, **fields: Any) -> dict[str, Any]:
    return {
        "type": "chat",
        "event_id": "ev-big",
        "source": "webchat-1",
        "occurred_at": "2026-11-21T09:00:00+00:00",
        "conversation_id": "conv-big",
        "platform": "webchat",
        "parties": [{"address": "visitor-1", "subject_id": "cust-1"}],
        "content_inline": {
            "data_b64": base64.b64encode(data).decode(),
            "content_type": "text/plain",
        },
        **fields,
    }


async def _chunked(body: bytes) -> AsyncIterator[bytes]:
    """body in 64 KiB pieces, sent without a Content-Length (chunked)."""
    for start in range(0, len(body), 65536):
        yield body[start : start + 65536]


async def test_a_body_declared_over_the_limit_is_413_unread(harness: Harness) -> None:
    async with harness.client("legal") as http:
        response = await http.post(
            "/v1/holds",
            content=b"x" * (DEFAULT_BODY_BYTES + 1),
            headers={"Content-Type": "application/json"},
        )
    _assert_error(response, 413, "(body)")
    assert response.json()["error"] == "PayloadTooLargeError"
    assert str(DEFAULT_BODY_BYTES) in response.json()["detail"]


async def test_a_chunked_body_over_the_limit_is_413(harness: Harness) -> None:
    async with harness.client("legal") as http:
        response = await http.post(
            "/v1/holds",
            content=_chunked(b"x" * (DEFAULT_BODY_BYTES + 1)),
            headers={"Content-Type": "application/json"},
        )
    _assert_error(response, 413, "(body)")


async def test_a_chunked_body_under_the_limit_is_read_whole(harness: Harness) -> None:
    body = json.dumps(_chat_event(b"x" * MAX_INLINE_BYTES)).encode()
    async with harness.client("ingest") as http:
        response = await http.post(
            "/v1/events", content=_chunked(body), headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 202, response.text
    published = harness.app.state.services.publisher.sent
    assert len(json.loads(published[-1][2])["content_inline"]["data_b64"]) > 699_000


async def test_unknown_callers_are_refused_before_their_body_matters(harness: Harness) -> None:
    async with harness.client() as anonymous:
        response = await anonymous.post("/v1/holds", content=b"x" * (DEFAULT_BODY_BYTES + 1))
    assert response.status_code == 401


async def test_events_carry_the_largest_inline_content_but_no_more(harness: Harness) -> None:
    largest = _chat_event(
        b"x" * MAX_INLINE_BYTES, attributes={f"k{i}": "v" * 400 for i in range(600)}
    )
    body = json.dumps(largest).encode()
    assert len(body) > 900_000  # the inline content and 250 kB of fields
    oversized = _chat_event(b"x", attributes={"pad": "v" * MAX_EVENT_BODY_BYTES})
    async with harness.client("ingest") as http:
        accepted = await http.post(
            "/v1/events", content=body, headers={"Content-Type": "application/json"}
        )
        refused = await http.post("/v1/events", json=oversized)
    assert accepted.status_code == 202, accepted.text
    _assert_error(refused, 413, "(body)")
    assert MAX_EVENT_BODY_BYTES < 1024 * 1024  # a Kafka producer's default request size


async def test_a_policy_over_its_limit_is_413(harness: Harness) -> None:
    text = "# padding\n" * (MAX_POLICY_BYTES // 10 + 1)
    async with harness.client("admin") as http:
        response = await http.put(
            "/v1/policy", content=text, headers={"Content-Type": "application/yaml"}
        )
    _assert_error(response, 413, "(body)")


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"subject_ids": [f"c-{i}" for i in range(MAX_CRITERIA_VALUES + 1)]}, "subject_ids"),
        ({"addresses": ["a@example.com"] * (MAX_CRITERIA_VALUES + 1)}, "addresses"),
        ({"staff_ids": ["s"] * (MAX_CRITERIA_VALUES + 1)}, "staff_ids"),
        ({"types": ["chat"] * (MAX_CRITERIA_VALUES + 1)}, "types"),
        ({"attributes": {"desk": ["fx"] * (MAX_CRITERIA_VALUES + 1)}}, "attributes.desk"),
        ({"attributes": {f"k{i}": "v" for i in range(101)}}, "attributes"),
    ],
)
async def test_hold_criteria_lists_are_bounded(
    harness: Harness, criteria: dict[str, Any], field: str
) -> None:
    async with harness.client("legal") as http:
        placed = await http.post("/v1/holds", json={"matter": "m", "criteria": criteria})
        previewed = await http.post("/v1/holds/preview", json={"criteria": criteria})
    _assert_error(placed, 422, f"criteria.{field}")
    _assert_error(previewed, 422, f"criteria.{field}")


async def test_hold_criteria_at_the_bound_are_accepted(harness: Harness) -> None:
    criteria = {"subject_ids": [f"c-{i}" for i in range(MAX_CRITERIA_VALUES)]}
    async with harness.client("legal") as http:
        response = await http.post("/v1/holds/preview", json={"criteria": criteria})
    assert response.status_code == 200, response.text


async def test_objection_purposes_are_bounded(harness: Harness) -> None:
    purposes = ["quality"] * (MAX_OBJECTION_PURPOSES + 1)
    async with harness.client("privacy") as http:
        response = await http.post("/v1/subjects/s-1/objection", json={"purposes": purposes})
    _assert_error(response, 422, "purposes")


async def test_openapi_declares_413_where_bodies_are_sent(harness: Harness) -> None:
    async with harness.client() as http:
        doc = (await http.get("/openapi.json")).json()
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if method in {"post", "put"}:
                assert "413" in operation["responses"], (method, path)


# --- content types ------------------------------------------------------------------------

HOSTILE_CONTENT_TYPES = [
    "text/html\r\nSet-Cookie: session=stolen",
    "text/html\nX-Injected: 1",
    "audio/wav\x00",
    "text/html; charset=utf-8\r\n\r\n<script>alert(1)</script>",
    "not a media type",
    "audio/wäv",
    "x/" + "y" * 300,
]


@pytest.mark.parametrize("content_type", HOSTILE_CONTENT_TYPES, ids=range(7))
async def test_content_stored_with_a_bad_type_is_served_as_octet_stream(
    harness: Harness, content_type: str
) -> None:
    data = b"<script>alert(1)</script>"
    item_id = await harness.add_content(data, content_type=content_type)
    async with harness.client("legal") as http:
        whole = await http.get(f"/v1/items/{item_id}/content")
        head = await http.head(f"/v1/items/{item_id}/content")
        ranged = await http.get(f"/v1/items/{item_id}/content", headers={"Range": "bytes=0-7"})
    for response in (whole, head, ranged):
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["content-disposition"] == f'attachment; filename="{item_id}.bin"'
        assert "set-cookie" not in response.headers
        assert "x-injected" not in response.headers
    assert (whole.status_code, whole.content) == (200, data)
    assert (ranged.status_code, ranged.content) == (206, data[:8])


@pytest.mark.parametrize(
    ("content_type", "extension"),
    [("text/html", "html"), ("message/rfc822", "eml"), ("audio/wav", "wav")],
)
async def test_content_is_a_sandboxed_attachment_never_a_page(
    harness: Harness, content_type: str, extension: str
) -> None:
    item_id = await harness.add_content(
        b"<html><script>alert(1)</script>", content_type=content_type
    )
    async with harness.client("legal") as http:
        response = await http.get(f"/v1/items/{item_id}/content")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{item_id}.{extension}"'
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == "sandbox; default-src 'none'"


@pytest.mark.parametrize("content_type", HOSTILE_CONTENT_TYPES, ids=range(7))
async def test_events_with_a_hostile_content_type_are_422(
    harness: Harness, content_type: str
) -> None:
    reference = _chat_event(b"hi")
    del reference["content_inline"]
    reference["content"] = {
        "uri": "https://rec.example.com/x",
        "sha256": hashlib.sha256(b"hi").hexdigest(),
        "size_bytes": 2,
        "content_type": content_type,
    }
    inline = _chat_event(b"hi")
    inline["content_inline"]["content_type"] = content_type
    async with harness.client("ingest") as http:
        by_reference = await http.post("/v1/events", json=reference)
        carried = await http.post("/v1/events", json=inline)
    _assert_error(by_reference, 422, "content.content_type")
    _assert_error(carried, 422, "content_inline.content_type")


# --- metrics ------------------------------------------------------------------------------


async def test_metrics_labels_stay_bounded_whatever_clients_send(harness: Harness) -> None:
    rng = random.Random(20261125)
    methods = [f"X{rng.getrandbits(40):x}" for _ in range(20)] + ["BREW"]
    paths = [f"/v1/items/raw-{rng.getrandbits(40):x}" for _ in range(5)]
    paths += [f"/nothing/raw-{rng.getrandbits(40):x}" for _ in range(5)]
    async with harness.client("legal") as http:
        for method in methods:
            await http.request(method, "/v1/items")
        for path in paths:
            await http.get(path)
    async with harness.client() as anonymous:
        text = (await anonymous.get("/metrics")).text
    counted = [line for line in text.splitlines() if line.startswith("keepline_api_requests_total")]
    labels = {line.split('method="', 1)[1].split('"', 1)[0] for line in counted}
    assert labels <= {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other"}
    assert 'method="other",route="/v1/items",status="405"} 21.0' in text
    for raw in [*methods, *paths]:
        assert f'"{raw}"' not in text
    assert "raw-" not in text
