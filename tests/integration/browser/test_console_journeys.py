"""Each role's main journey in the console, in headless Chromium, against the real stack.

Sign-in goes through Dex (authorization code with PKCE); every view is checked with axe-core
for serious and critical violations, and the page must not break its own CSP.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections.abc import Callable

from playwright.sync_api import Browser, Page, Response, expect

from tests.integration.browser.conftest import SignedIn
from tests.integration.browser.console_support import (
    HOSTILE_TEXT,
    RECORDING_SECONDS,
    Seeded,
    check_accessible,
    screenshot,
)
from tests.integration.keepline_service import TOKENS, KeeplineService

_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


def test_sign_in_page_offers_single_sign_on(
    chromium: Browser, keepline: KeeplineService, axe_source: str
) -> None:
    context = chromium.new_context(base_url=keepline.url)
    try:
        anonymous = context.new_page()
        anonymous.goto("/")
        expect(anonymous.get_by_role("heading", name="Sign in to keepline")).to_be_visible()
        expect(anonymous.get_by_role("button", name="Sign in with single sign-on")).to_be_visible()
        expect(anonymous.get_by_text("Local use only")).to_have_count(0)
        check_accessible(anonymous, axe_source)
        screenshot(anonymous, "sign-in")
    finally:
        context.close()


def test_qa_finds_a_recording_plays_it_and_seeks_into_its_middle(
    signed_in: SignedIn, seeded: Seeded, axe_source: str
) -> None:
    page = signed_in("qa")
    expect(page.get_by_role("heading", name="Find recordings, chats and e-mails")).to_be_visible()
    served: list[Response] = []
    page.on("response", lambda r: served.append(r) if "/signed/content/" in r.url else None)
    page.get_by_label("Purpose").select_option("training")
    page.get_by_label("Type").select_option("call_recording")
    page.get_by_label("Queue").fill("support")
    page.get_by_label("Agent (staff id)").fill("agent-7")
    page.get_by_role("button", name="Search").click()
    results = page.locator(".results table")
    expect(results).to_contain_text(f"Call {seeded.call_id}")
    check_accessible(page, axe_source)
    page.get_by_role("row", name=re.compile(seeded.call_id)).get_by_role(
        "button", name="Play"
    ).click()
    audio = page.locator("audio")
    expect(audio).to_be_visible()
    page.wait_for_function("() => document.querySelector('audio').readyState >= 1", timeout=30_000)
    duration = audio.evaluate("a => a.duration")
    assert abs(duration - RECORDING_SECONDS) < 1
    audio.evaluate("a => a.play()")
    page.wait_for_function("() => document.querySelector('audio').currentTime > 0.2")
    middle = duration / 2
    audio.evaluate(
        """(a, at) => new Promise((done) => {
            a.addEventListener("seeked", done, {once: true});
            a.currentTime = at;
        })""",
        middle,
    )
    page.wait_for_function(
        f"() => document.querySelector('audio').currentTime >= {middle}", timeout=30_000
    )

    # The seek was served as a byte range near the middle of the file, not from the start.
    def range_starts() -> list[int]:
        ranges = [r.headers.get("content-range", "") for r in served if r.status == 206]
        return [int(m.group(1)) for m in map(_RANGE.match, ranges) if m]

    deadline = time.monotonic() + 20
    while not any(s > seeded.recording_size // 4 for s in range_starts()):
        assert time.monotonic() < deadline, f"no range request past a quarter: {range_starts()}"
        page.wait_for_timeout(100)
    check_accessible(page, axe_source)
    screenshot(page, "qa-player")


def test_qa_reads_a_chat_as_text_and_nothing_in_it_runs(
    signed_in: SignedIn, seeded: Seeded, axe_source: str
) -> None:
    page = signed_in("qa")
    page.get_by_label("Purpose").select_option("quality")
    page.get_by_label("Type").select_option("chat")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("row", name=re.compile(seeded.qa_chat_id)).get_by_role(
        "button", name="Read"
    ).click()
    content = page.locator("pre.content")
    expect(content).to_have_text(HOSTILE_TEXT)
    assert page.locator(".detail img, .detail script").count() == 0
    assert "pwned" not in page.title()
    check_accessible(page, axe_source)
    screenshot(page, "qa-chat")


def test_a_role_sees_only_its_views(signed_in: SignedIn) -> None:
    page = signed_in("qa")
    links = page.get_by_role("navigation", name="Views").get_by_role("link")
    expect(links).to_have_text(["Find & play"])


def test_legal_previews_places_and_releases_a_hold(
    signed_in: SignedIn, seeded: Seeded, axe_source: str, keepline: KeeplineService
) -> None:
    page = signed_in("legal")
    expect(page.get_by_role("heading", name="Legal holds", exact=True)).to_be_visible()
    page.get_by_label("Subject ids").fill(seeded.legal_subject)
    page.get_by_role("button", name="Preview count").click()
    expect(page.locator(".outcome")).to_contain_text("2 items would be covered")
    page.get_by_label("Matter", exact=True).fill("Console matter 7")
    page.get_by_label("Description").fill("Complaint escalated to the ombudsman.")
    page.get_by_role("button", name="Place hold").click()
    expect(page.locator(".outcome")).to_contain_text("Hold placed for Console matter 7")
    row = page.get_by_role("row", name=re.compile("Console matter 7"))
    expect(row).to_contain_text("active")
    check_accessible(page, axe_source)
    screenshot(page, "legal-holds")
    row.get_by_role("button", name="Release Console matter 7").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("2 items")
    check_accessible(page, axe_source)
    screenshot(page, "legal-release")
    dialog.get_by_role("button", name="Release hold on 2 items").click()
    expect(row).to_contain_text("released")
    with keepline.client("legal") as legal:
        holds = legal.get("/v1/holds").json()["holds"]
    mine = [h for h in holds if h["matter"] == "Console matter 7"]
    assert [h["active"] for h in mine] == [False]
    assert mine[0]["created_by"] == "legal-user", "the hold is the signed-in user's"


def test_privacy_exports_and_erases_a_subject(
    signed_in: SignedIn, seeded: Seeded, axe_source: str
) -> None:
    page = signed_in("privacy")
    page.get_by_label("Subject id").fill(seeded.privacy_subject)
    page.get_by_role("button", name="Show items").click()
    expect(page.locator(".results table tbody tr")).to_have_count(2)
    check_accessible(page, axe_source)
    page.get_by_role("button", name="Export (access request)").click()
    link = page.get_by_role("link", name=re.compile("Download the export"))
    with page.expect_download() as download:
        link.click()
    archive = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
    assert "items.json" in archive.namelist()
    assert len([n for n in archive.namelist() if n.startswith("content/")]) == 2
    screenshot(page, "privacy-subject")
    page.get_by_role("button", name="Erase…").click()
    page.get_by_role("dialog").get_by_role("button", name="Erase").click()
    report = page.locator(".outcome")
    expect(report).to_contain_text("Erasure report")
    # Chats are kept for the legal purpose (a legal obligation): retained, with the reason.
    expect(report).to_contain_text("0 erased, 2 retained")
    expect(report).to_contain_text("legal_obligation:legal")
    check_accessible(page, axe_source)
    screenshot(page, "privacy-erasure")


def test_auditor_verifies_the_chain(signed_in: SignedIn, axe_source: str) -> None:
    page = signed_in("auditor")
    expect(page.locator(".results table")).to_contain_text("content.read")
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.locator(".outcome")).to_contain_text("Chain intact")
    page.get_by_label("Action").fill("hold.placed")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator(".results table tbody tr").first).to_contain_text("legal-user")
    check_accessible(page, axe_source)
    screenshot(page, "auditor-trail")


def test_admin_views_the_policy_and_dry_runs_a_new_one(
    signed_in: SignedIn, axe_source: str, keepline: KeeplineService
) -> None:
    page = signed_in("admin")
    expect(page.get_by_role("heading", name="Retention policy")).to_be_visible()
    expect(page.get_by_role("table", name="Purposes")).to_contain_text("training")
    editor = page.get_by_label("Policy YAML")
    expect(editor).to_have_value(re.compile("purposes:"))
    check_accessible(page, axe_source)
    screenshot(page, "admin-policy")
    with keepline.client("admin") as admin:
        before = admin.get("/v1/policy").json()["version"]
    # Training kept two years instead of one: the recording's training expiry moves.
    editor.fill(editor.input_value().replace("retention: P1Y", "retention: P2Y"))
    page.get_by_role("button", name="Dry run").click()
    outcome = page.locator(".outcome")
    expect(outcome).to_contain_text("Dry run (nothing activated)")
    expect(outcome).to_contain_text("1 expiries moved")
    expect(page.get_by_role("table", name="Items whose expiry moves")).to_contain_text("training")
    check_accessible(page, axe_source)
    screenshot(page, "admin-dry-run")
    with keepline.client("admin") as admin:
        assert admin.get("/v1/policy").json()["version"] == before, "a dry run activates nothing"


def test_an_unknown_token_is_sent_back_to_sign_in(signed_in: SignedIn) -> None:
    page: Page = signed_in("auditor")
    page.evaluate(
        """() => sessionStorage.setItem("keepline.session",
            JSON.stringify({token: "forged", kind: "oidc"}))"""
    )
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")


def test_without_a_provider_the_console_takes_a_token_marked_local_use(
    chromium: Browser, keepline_factory: Callable[..., KeeplineService], axe_source: str
) -> None:
    service = keepline_factory()
    context = chromium.new_context(base_url=service.url)
    try:
        page = context.new_page()
        page.goto("/")
        expect(page.get_by_text("Local use only")).to_be_visible()
        expect(page.get_by_role("button", name="Sign in with single sign-on")).to_have_count(0)
        check_accessible(page, axe_source)
        screenshot(page, "sign-in-token")
        page.get_by_label("API token").fill("not-a-token")
        page.get_by_role("button", name="Sign in with a token").click()
        expect(page.get_by_role("alert")).to_contain_text("not accepted")
        page.get_by_label("API token").fill(TOKENS["auditor"])
        page.get_by_role("button", name="Sign in with a token").click()
        expect(page.locator(".who")).to_contain_text("auditor-user · auditor · token (local)")
        expect(page.get_by_role("heading", name="Audit trail")).to_be_visible()
        service.stop()
        page.get_by_role("button", name="Verify the chain").click()
        expect(page.get_by_role("alert")).to_contain_text("The keepline API cannot be reached")
    finally:
        context.close()


def test_a_refusal_says_what_was_refused(signed_in: SignedIn) -> None:
    page = signed_in("qa")
    # A purpose the policy does not give qa, as a tampered form would send it.
    page.get_by_label("Purpose").evaluate(
        """(select) => { select.append(new Option("legal", "legal")); select.value = "legal"; }"""
    )
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("Not allowed: role qa may not retrieve")
