"""The legal view lists the items a hold covers, in headless Chromium against the real stack."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.integration.browser.conftest import SignedIn
from tests.integration.browser.console_support import Seeded, check_accessible, screenshot
from tests.integration.keepline_service import KeeplineService


def test_legal_sees_the_items_a_hold_covers(
    signed_in: SignedIn, seeded: Seeded, axe_source: str, keepline: KeeplineService
) -> None:
    with keepline.client("legal") as legal:
        placed = legal.post(
            "/v1/holds",
            json={
                "matter": "Covered items 3",
                "description": "",
                "criteria": {"subject_ids": [seeded.legal_subject]},
            },
        )
        assert placed.status_code == 201, placed.text
        listed = legal.get("/v1/items", params={"subject_id": seeded.legal_subject}).json()
    expected = {item["item_id"] for item in listed["items"]}
    assert len(expected) == placed.json()["matched"] == 2

    page = signed_in("legal")
    row = page.get_by_role("row", name=re.compile("Covered items 3"))
    row.get_by_role("button", name="Items of Covered items 3").click()
    heading = page.get_by_role("heading", name="Items the hold for Covered items 3 covers")
    expect(heading).to_be_focused()
    covered = page.locator("table", has=page.locator("caption", has_text="2 items covered now"))
    expect(covered.locator("tbody tr")).to_have_count(2)
    shown = {covered.locator("tbody tr").nth(i).locator("td").first.inner_text() for i in (0, 1)}
    assert shown == expected
    check_accessible(page, axe_source)
    screenshot(page, "legal-hold-items")

    # why one of them is kept, and until when: the retention explanation, as the API gives it
    first = sorted(expected)[0]
    with keepline.client("legal") as legal:
        explained = legal.get(f"/v1/items/{first}/retention").json()
    page.get_by_role("button", name=f"Why kept: {first}").click()
    why = page.get_by_role("heading", name=f"Why item {first} is kept")
    expect(why).to_be_focused()
    purposes = page.locator("table", has=page.locator("caption", has_text="Each purpose"))
    expect(purposes.locator("tbody tr")).to_have_count(len(explained["purposes"]))
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Covered items 3")  # the hold that keeps it
    expect(facts).to_contain_text("not while a hold or a review keeps it")
    assert explained["destroy_after"] is None
    check_accessible(page, axe_source)
    screenshot(page, "legal-why-kept")

    # once released, the hold covers nothing and offers no list
    with keepline.client("legal") as legal:
        released = legal.post(f"/v1/holds/{placed.json()['hold_id']}/release")
        assert released.status_code == 200, released.text
    page = signed_in("legal")
    again = page.get_by_role("row", name=re.compile("Covered items 3"))
    expect(again).to_contain_text("released")
    expect(again.get_by_role("button", name="Items of Covered items 3")).to_have_count(0)
