"""The privacy view rectifies a link, shows the access report and the register of disclosures,
in headless Chromium against the real stack."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect

from tests.contract_examples import example
from tests.integration.browser.conftest import SignedIn
from tests.integration.browser.console_support import check_accessible, screenshot
from tests.integration.keepline_service import KeeplineService, wait_for

WRONG = "cust-console-wrong"
RIGHT = "cust-console-right"


def _chat_of(keepline: KeeplineService, subject: str) -> str:
    """Store a chat naming the subject; its item id."""
    chat = example("chat")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    chat.update(
        event_id=f"console-rectify-{subject}", conversation_id="conv-rectify", occurred_at=yesterday
    )
    chat["parties"][0].update(subject_id=subject, address="visitor-rectify")
    chat["content_inline"] = {
        "data_b64": base64.b64encode(b"Is this my account?").decode(),
        "content_type": "text/plain; charset=utf-8",
    }
    with keepline.client("ingest") as ingest:  # the API: the browser's loop owns this thread
        accepted = ingest.post("/v1/events", json=chat)
        assert accepted.status_code == 202, accepted.text
    with keepline.client("legal") as legal:
        (item,) = wait_for(
            lambda: legal.get("/v1/items", params={"subject_id": subject}).json()["items"],
            what="the chat to rectify stored",
        )
    return str(item["item_id"])


def test_privacy_reads_the_register_and_report_then_rectifies_a_link(
    signed_in: SignedIn, axe_source: str, keepline: KeeplineService
) -> None:
    item_id = _chat_of(keepline, WRONG)
    with keepline.client("legal") as legal:
        disclosed = legal.post(
            "/v1/disclosures",
            json={
                "recipient": "Court of Appeal",
                "legal_basis": "court order",
                "reference": "CO-2026-7",
                "item_ids": [item_id],
                "disclosed_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            },
        )
        assert disclosed.status_code == 201, disclosed.text

    page = signed_in("privacy")
    page.get_by_label("Subject id").fill(WRONG)
    page.get_by_role("button", name="Show items").click()
    expect(page.locator(".results table tbody tr")).to_have_count(1)

    page.get_by_role("button", name="Register of disclosures").click()
    expect(page.get_by_role("heading", name="Register of disclosures")).to_be_focused()
    register = page.locator(".outcome table")
    expect(register.locator("tbody tr")).to_have_count(1)
    expect(register).to_contain_text("Court of Appeal")
    expect(register).to_contain_text("CO-2026-7")

    page.get_by_role("button", name="Access report").click()
    report = page.locator(".outcome")
    expect(page.get_by_role("heading", name="Access report")).to_be_focused()
    expect(report).to_contain_text(re.compile(r"chat: 1 item, from \S+"))
    expect(report).to_contain_text("Court of Appeal")
    check_accessible(page, axe_source)
    screenshot(page, "privacy-access-report")

    page.get_by_label("Item id").fill(item_id)
    page.get_by_label("Correct subject").fill(RIGHT)
    page.get_by_label("Reason").fill("the CRM matched the wrong number")
    page.get_by_role("button", name="Rectify").click()
    expect(page.get_by_role("heading", name="Rectification")).to_be_focused()
    expect(report).to_contain_text(f"1 item relinked to {RIGHT}")
    told = page.locator("table", has=page.locator("caption", has_text="Recipients to inform"))
    expect(told).to_contain_text("Court of Appeal")
    check_accessible(page, axe_source)
    screenshot(page, "privacy-rectify")
    # the list shown again is the wrong subject's, which holds the item no more
    expect(page.locator(".results")).to_contain_text("keepline holds no item of this subject.")

    with keepline.client("privacy") as privacy:
        moved = privacy.get("/v1/items", params={"subject_id": RIGHT}).json()["items"]
        assert [i["item_id"] for i in moved] == [item_id]
        assert privacy.get("/v1/items", params={"subject_id": WRONG}).json()["items"] == []
