"""What the browser tests share: the seeded data, signing in through Dex, axe, screenshots."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import struct
import wave
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from deploy.dex import STATIC_PASSWORD, static_user
from tests.contract_examples import example

SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
#: A chat whose text is markup: the console must show it, never run it.
HOSTILE_TEXT = (
    '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'
)
#: Twenty minutes (38 MB): its middle lies far beyond what a browser reads ahead, so seeking
#: there must fetch a byte range of its own.
RECORDING_SECONDS = 1200
SAMPLE_RATE = 16_000


def wav_tone(seconds: int = RECORDING_SECONDS) -> bytes:
    """A mono 16-bit PCM WAV of a 440 Hz tone (32 KB a second), built from one second."""
    second = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / SAMPLE_RATE)))
        for n in range(SAMPLE_RATE)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(second * seconds)
    return out.getvalue()


@dataclass
class Seeded:
    """Ids of what the tests find in the console."""

    call_id: str = "c-console-1"
    recording_size: int = 0
    qa_chat_id: str = "conv-console-hostile"
    legal_subject: str = "cust-console-legal"
    privacy_subject: str = "cust-console-privacy"
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def seed_events(recording_url: str, recording: bytes) -> Seeded:
    """The events the journeys need: a long recording, a hostile chat, subjects' chats."""
    seeded = Seeded(recording_size=len(recording))
    yesterday = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()
    call = example("call_recording")
    call.update(event_id="console-call-1", call_id=seeded.call_id, occurred_at=yesterday)
    call.update(started_at=yesterday, ended_at=yesterday, attributes={"queue": "support"})
    call["content"] = {
        "uri": recording_url,
        "sha256": hashlib.sha256(recording).hexdigest(),
        "size_bytes": len(recording),
        "content_type": "audio/wav",
    }
    seeded.events.append(("calls", call))
    chats: list[tuple[str, str, bytes]] = [
        ("console-chat-hostile", "cust-console-qa", HOSTILE_TEXT.encode()),
        ("console-chat-l1", seeded.legal_subject, b"Please keep my complaint on file."),
        ("console-chat-l2", seeded.legal_subject, b"Following up on the complaint."),
        ("console-chat-p1", seeded.privacy_subject, b"I would like a copy of my data."),
        ("console-chat-p2", seeded.privacy_subject, b"And then please delete it."),
    ]
    for event_id, subject, text in chats:
        chat = example("chat")
        conversation = seeded.qa_chat_id if "hostile" in event_id else f"conv-{event_id}"
        chat.update(event_id=event_id, conversation_id=conversation, occurred_at=yesterday)
        chat["parties"][0]["subject_id"] = subject
        chat["content_inline"] = {
            "data_b64": base64.b64encode(text).decode(),
            "content_type": "text/plain; charset=utf-8",
        }
        seeded.events.append(("chats", chat))
    return seeded


def sign_in(page: Page, base_url: str, role: str) -> None:
    """Sign in through Dex as the static user of role; return on the console's first view."""
    page.goto(f"{base_url}/")
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.locator("#login").fill(static_user(role))
    page.locator("#password").fill(STATIC_PASSWORD)
    page.locator("#submit-login").click()
    expect(page.locator(".who")).to_contain_text(f"{role}-user", timeout=30_000)


def axe_violations(page: Page, axe_source: str) -> list[dict[str, Any]]:
    """Serious and critical accessibility violations axe-core finds on the page now."""
    page.evaluate(axe_source)
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5)}));
        }"""
    )
    return found


def check_accessible(page: Page, axe_source: str) -> None:
    """Fail with axe's findings if the page has a serious or critical violation."""
    found = axe_violations(page, axe_source)
    assert not found, json.dumps(found, indent=2)


def screenshot(page: Page, name: str) -> None:
    """Save the page for the guides, only when KEEPLINE_SCREENSHOTS=1 (tracked files)."""
    if os.environ.get("KEEPLINE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
