"""GET /v1/items and /v1/items/{id}: filters, order, pagination and who sees what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.errors import CatalogUnavailableError, ObjectStoreUnavailableError
from tests.unit.api.conftest import NOW, Harness


async def test_lists_newest_first_with_every_filter(harness: Harness) -> None:
    old = await harness.add_item(occurred_at=NOW - timedelta(days=3), item_type="email")
    mid = await harness.add_item(
        occurred_at=NOW - timedelta(days=2),
        subject_id="cust-2",
        staff_id="agent-9",
        attributes={"queue": "sales", "site": "london"},
    )
    new = await harness.add_item(occurred_at=NOW - timedelta(days=1), attributes={"queue": "x"})
    async with harness.client("legal") as http:

        async def ids(**params: str) -> list[str]:
            response = await http.get("/v1/items", params=params)
            assert response.status_code == 200, response.text
            return [i["item_id"] for i in response.json()["items"]]

        assert await ids() == [new, mid, old]
        assert await ids(type="email") == [old]
        assert await ids(subject_id="cust-2") == [mid]
        assert await ids(staff_id="agent-9") == [mid]
        assert await ids(**{"attr.queue": "sales"}) == [mid]
        assert await ids(**{"attr.queue": "sales", "attr.site": "paris"}) == []
        since = (NOW - timedelta(days=2)).isoformat()
        until = (NOW - timedelta(days=1)).isoformat()
        assert await ids(since=since) == [new, mid]
        assert await ids(since=since, until=until) == [mid]
        assert await ids(purpose="legal") == [new, mid, old]


async def test_item_shows_section_7_fields(harness: Harness) -> None:
    item_id = await harness.add_item(attributes={"queue": "support"})
    async with harness.client("privacy") as http:
        body = (await http.get(f"/v1/items/{item_id}")).json()
    assert body["item_id"] == item_id
    assert body["type"] == "chat"
    assert body["attributes"] == {"queue": "support"}
    assert {p["name"] for p in body["purposes"]} == {"quality", "legal"}
    assert all(p["expires_at"].endswith("+00:00") for p in body["purposes"])
    assert body["holds"] == []
    assert body["restricted"] is False
    assert body["status"] == "stored"
    assert body["policy_version"] == "v-unit"
    assert body["content"] is None
    assert body["ingested_at"] == NOW.isoformat()


async def test_pages_stay_stable_while_items_arrive(harness: Harness) -> None:
    first_batch = [
        await harness.add_item(occurred_at=NOW - timedelta(hours=10 + i)) for i in range(7)
    ]
    async with harness.client("legal") as http:
        page1 = (await http.get("/v1/items", params={"limit": 3})).json()
        # Newer items and one older than everything arrive between the pages.
        for i in range(4):
            await harness.add_item(occurred_at=NOW - timedelta(minutes=i))
        late_old = await harness.add_item(occurred_at=NOW - timedelta(days=30))
        seen = [i["item_id"] for i in page1["items"]]
        cursor = page1["next_cursor"]
        while cursor:
            page = (await http.get("/v1/items", params={"limit": 3, "cursor": cursor})).json()
            seen += [i["item_id"] for i in page["items"]]
            cursor = page["next_cursor"]
    assert seen == [*first_batch, late_old]
    assert len(set(seen)) == len(seen)


async def test_equal_occurred_at_is_ordered_by_id_across_pages(harness: Harness) -> None:
    at = NOW - timedelta(hours=1)
    made = [await harness.add_item(occurred_at=at) for _ in range(5)]
    async with harness.client("legal") as http:
        page1 = (await http.get("/v1/items", params={"limit": 2})).json()
        page2 = (
            await http.get("/v1/items", params={"limit": 10, "cursor": page1["next_cursor"]})
        ).json()
    listed = [i["item_id"] for i in page1["items"] + page2["items"]]
    assert listed == sorted(made, reverse=True)
    assert page2["next_cursor"] is None


async def test_qa_must_name_a_purpose_of_its_own(harness: Harness) -> None:
    await harness.add_item()
    async with harness.client("qa") as http:
        missing = await http.get("/v1/items")
        unknown = await http.get("/v1/items", params={"purpose": "nope"})
        not_own = await http.get("/v1/items", params={"purpose": "legal"})
        own = await http.get("/v1/items", params={"purpose": "quality"})
    assert (missing.status_code, missing.json()["field"]) == (422, "purpose")
    assert (unknown.status_code, unknown.json()["field"]) == (422, "purpose")
    assert not_own.status_code == 403
    assert own.status_code == 200
    assert len(own.json()["items"]) == 1


async def test_qa_sees_only_unexpired_purpose_and_unrestricted_subjects(harness: Harness) -> None:
    visible = await harness.add_item(subject_id="cust-ok")
    restricted = await harness.add_item(subject_id="cust-restricted")
    expired = await harness.add_item(occurred_at=NOW - timedelta(days=100), subject_id="cust-old")
    legal_only = await harness.add_item(
        purposes=[("legal", "legal_obligation", timedelta(days=2000))]
    )
    await harness.restrict("cust-restricted")
    async with harness.client("qa") as qa, harness.client("legal") as legal:
        listed = (await qa.get("/v1/items", params={"purpose": "quality"})).json()["items"]
        assert [i["item_id"] for i in listed] == [visible]
        assert (await qa.get(f"/v1/items/{visible}", params={"purpose": "quality"})).is_success
        # Not visible to qa: exactly the answer of an item that does not exist.
        absent = await qa.get("/v1/items/no-such-item", params={"purpose": "quality"})
        for hidden in (restricted, expired, legal_only):
            response = await qa.get(f"/v1/items/{hidden}", params={"purpose": "quality"})
            assert response.status_code == 404
            assert response.json() == absent.json()
            content = await qa.get(f"/v1/items/{hidden}/content", params={"purpose": "quality"})
            assert content.status_code == 404
        # Legal sees the restricted item, flagged as such.
        shown = (await legal.get(f"/v1/items/{restricted}")).json()
        assert shown["restricted"] is True
        everything = (await legal.get("/v1/items")).json()["items"]
        assert {i["item_id"] for i in everything} == {visible, restricted, expired, legal_only}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "9999-12-31T23:59:59-14:00"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "MjAyNi0wMS0wMVQwMDowMDowMHx4"}, "cursor"),  # naive time inside
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"type": "fax"}, "type"),
        ({"subject_id": "a\x00b"}, "subject_id"),
        ({"attr.queue": "x" * 501}, "attr.queue"),
        ({"since": "yesterday"}, "since"),
        ({"until": "0.5"}, "until"),
        ({"since": "2026-02-30T00:00:00Z"}, "since"),
    ],
)
async def test_bad_query_is_422_naming_the_field(
    harness: Harness, params: dict[str, str], field: str
) -> None:
    async with harness.client("legal") as http:
        response = await http.get("/v1/items", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == field
    assert field in body["detail"]


async def test_content_of_an_item_without_content_is_404(harness: Harness) -> None:
    item_id = await harness.add_item()
    async with harness.client("legal") as http:
        response = await http.get(f"/v1/items/{item_id}/content")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFoundError"


async def test_a_content_read_the_audit_cannot_record_sends_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = await harness.add_content(b"a recording" * 100)

    async def down(**_entry: object) -> None:
        raise CatalogUnavailableError("catalog unavailable", code="08006")

    monkeypatch.setattr(harness.storage.audit, "append", down)
    async with harness.client("legal") as client:
        response = await client.get(f"/v1/items/{item_id}/content")
    assert response.status_code == 503
    assert b"a recording" not in response.content


async def test_a_content_read_whose_first_chunk_fails_is_audited_as_tried(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = await harness.add_content(b"a recording" * 100)

    def unreachable(*_args: object, **_kwargs: object) -> object:
        raise ObjectStoreUnavailableError("connection refused")

    monkeypatch.setattr(harness.storage.store, "get_range", unreachable)
    async with harness.client("legal") as client:
        response = await client.get(f"/v1/items/{item_id}/content")
    assert response.status_code == 503
    reads = await harness.storage.audit.query(action="content.read", item_id=item_id)
    assert [e.actor for e in reads] == ["legal-user"]
