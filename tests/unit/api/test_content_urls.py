"""Signed content URLs: asked for with a bearer token, used without one, checked every time."""

from __future__ import annotations

from datetime import timedelta

from api.content_urls import ContentUrlSigner
from tests.unit.api.conftest import NOW, Harness

DATA = bytes(range(256)) * 40


async def _url(harness: Harness, item_id: str, role: str = "legal") -> str:
    async with harness.client(role) as client:
        response = await client.post(f"/v1/items/{item_id}/content-url")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_at"] == (NOW + timedelta(seconds=300)).isoformat()
    url: str = body["url"]
    assert url.startswith("http://api/signed/content/")
    return url.removeprefix("http://api")


async def test_the_url_serves_the_content_with_ranges_and_each_use_is_audited(
    harness: Harness,
) -> None:
    item_id = await harness.add_content(DATA, content_type="audio/wav")
    path = await _url(harness, item_id)
    async with harness.client() as anonymous:
        whole = await anonymous.get(path)
        part = await anonymous.get(path, headers={"Range": "bytes=5000-5099"})
    assert whole.status_code == 200
    assert whole.content == DATA
    assert whole.headers["content-type"] == "audio/wav"
    assert whole.headers["x-content-type-options"] == "nosniff"
    assert part.status_code == 206
    assert part.content == DATA[5000:5100]
    assert part.headers["content-range"] == f"bytes 5000-5099/{len(DATA)}"
    reads = await harness.storage.audit.query(action="content.read", item_id=item_id)
    assert [(e.actor, e.details.get("via"), e.details["range"]) for e in reads] == [
        ("legal-user", "content-url", None),
        ("legal-user", "content-url", [5000, 5099]),
    ]


async def test_a_forged_or_expired_url_is_refused(harness: Harness) -> None:
    item_id = await harness.add_content(DATA)
    path = await _url(harness, item_id)
    payload, _, mac = path.rpartition("/")[2].partition(".")
    other = ContentUrlSigner(ttl_s=300).sign(
        item_id=item_id, purpose=None, principal="legal-user", role="legal", now=NOW
    )[0]
    async with harness.client() as anonymous:
        assert (await anonymous.get(f"/signed/content/{payload}.{mac[:-2]}AA")).status_code == 403
        assert (await anonymous.get(other)).status_code == 403, "another key's signature"
        assert (await anonymous.get("/signed/content/x" * 300)).status_code in {403, 404, 422}
        harness.clock.now = NOW + timedelta(seconds=301)
        assert (await anonymous.get(path)).status_code == 403
    reads = await harness.storage.audit.query(action="content.read", item_id=item_id)
    assert reads == []


async def test_the_url_is_decided_like_content_and_again_on_use(harness: Harness) -> None:
    item_id = await harness.add_content(DATA)
    async with harness.client("qa") as qa, harness.client("ingest") as ingest:
        assert (await qa.post(f"/v1/items/{item_id}/content-url")).status_code == 422
        denied = await qa.post(f"/v1/items/{item_id}/content-url", params={"purpose": "quality"})
        assert denied.status_code == 404, "qa does not see an item kept only for legal"
        assert (await ingest.post(f"/v1/items/{item_id}/content-url")).status_code == 403
    signer = ContentUrlSigner(ttl_s=300)
    harness.app.state.content_urls = signer
    forged_role = signer.sign(
        item_id=item_id, purpose="quality", principal="qa-user", role="qa", now=NOW
    )[0]
    async with harness.client() as anonymous:
        assert (await anonymous.get(forged_role)).status_code == 404


async def test_metadata_only_items_get_no_url(harness: Harness) -> None:
    item_id = await harness.add_item()
    async with harness.client("legal") as legal:
        response = await legal.post(f"/v1/items/{item_id}/content-url")
    assert response.status_code == 404
