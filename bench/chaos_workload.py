"""The mixed workload of a chaos run, with republished duplicates, planned in advance.

Calls carry a recording fetched over HTTP; e-mails are metadata only or carry their message
(over HTTP, or as a file:// URI under the allowed root); chats carry their text inline (or
are metadata only). Some
events are published a second time (the same source and event_id) a little later in the
stream: half with the same key, so to the same partition, half sent to another partition, so
two workers may hold the same event at once.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.artefacts import Message, call_recording, chat, email, message
from bench.chaos_accounting import EventKey, Expected
from bench.content import PatternSource

KIB = 1 << 10
#: Chunks the throttled content server sends one at a time.
STREAM_CHUNK_BYTES = 16 * KIB
#: The source of each artefact type.
SOURCES = {"call_recording": "chaos-pbx", "email": "chaos-mx", "chat": "chaos-chat"}


@dataclass(frozen=True, slots=True)
class Mix:
    """Shares of each kind of event (they need not add up to one), and of duplicates.

    Attributes:
        calls: Calls with a recording over HTTP.
        emails_plain: Metadata-only e-mails.
        emails_content: E-mails with their message (two in three over HTTP, one as a file);
            rarer than metadata-only ones, so that one waiting for the object store mostly
            has stored events right behind it on its partition.
        chats: Chats: with inline text, one in four metadata only (nothing to upload, so
            acknowledged while the object store is down and the chats before it retry).
        duplicates: Share of events published a second time.
        call_bytes: Smallest and largest recording.
        email_bytes: Smallest and largest e-mail message.
        chat_bytes: Shortest and longest chat text.
    """

    calls: float = 0.3
    emails_plain: float = 0.3
    emails_content: float = 0.08
    chats: float = 0.32
    duplicates: float = 0.1
    call_bytes: tuple[int, int] = (48 * KIB, 192 * KIB)
    email_bytes: tuple[int, int] = (2 * KIB, 24 * KIB)
    chat_bytes: tuple[int, int] = (16, 1024)


@dataclass(frozen=True, slots=True)
class Copy:
    """One message to publish.

    Attributes:
        key: The event's (source, event_id).
        message: Topic kind, Kafka key and value.
        republished: A second publication of an event published before.
        other_partition: Send it to another partition than the first copy went to.
    """

    key: EventKey
    message: Message
    republished: bool = False
    other_partition: bool = False


@dataclass(frozen=True, slots=True)
class Workload:
    """The events a run publishes, and what each must become.

    Attributes:
        expected: Every distinct event, by key.
        copies: The messages, in publication order.
    """

    expected: dict[EventKey, Expected]
    copies: tuple[Copy, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ContentSinks:
    """Where generated content is made available: each returns the URI of a source."""

    http: Callable[[PatternSource], str]
    file: Callable[[PatternSource], str]


def _reference(uri: str, source: PatternSource, content_type: str) -> dict[str, Any]:
    return {
        "uri": uri,
        "sha256": source.sha256,
        "size_bytes": source.size_bytes,
        "content_type": content_type,
    }


def _event(
    kind: str,
    *,
    run_id: str,
    index: int,
    at: datetime,
    rng: random.Random,
    sinks: ContentSinks,
    mix: Mix,
) -> tuple[dict[str, Any], int | None, str | None]:
    """An event of kind, and the size and sha256 of its content (None: metadata only)."""
    subject_id = f"chaos-subject-{index % 20}"
    seed = rng.randrange(1 << 30)
    if kind == "call":
        source = PatternSource(seed, rng.randint(*mix.call_bytes), STREAM_CHUNK_BYTES)
        event = call_recording(
            run_id=run_id,
            index=index,
            subject_id=subject_id,
            occurred_at=at,
            uri=sinks.http(source),
            sha256=source.sha256,
            size_bytes=source.size_bytes,
        )
        return event, source.size_bytes, source.sha256
    if kind == "chat" and index % 4 == 0:
        return chat(run_id=run_id, index=index, subject_id=subject_id, occurred_at=at), None, None
    if kind == "chat":
        text = PatternSource(seed, rng.randint(*mix.chat_bytes)).read_at(0, 1 << 20)
        event = chat(run_id=run_id, index=index, subject_id=subject_id, occurred_at=at, text=text)
        return event, len(text), hashlib.sha256(text).hexdigest()
    event = email(run_id=run_id, index=index, subject_id=subject_id, occurred_at=at)
    if kind == "email_plain":
        return event, None, None
    source = PatternSource(seed, rng.randint(*mix.email_bytes), STREAM_CHUNK_BYTES)
    uri = sinks.file(source) if index % 3 == 0 else sinks.http(source)
    event["content"] = _reference(uri, source, "message/rfc822")
    return event, source.size_bytes, source.sha256


def build_workload(
    *,
    run_id: str,
    events: int,
    occurred_at: datetime,
    sinks: ContentSinks,
    rng: random.Random,
    mix: Mix | None = None,
) -> Workload:
    """Events of every kind in a random order, and the republished copies among them.

    Args:
        run_id: Unique to the run; in every event id.
        events: Distinct events.
        occurred_at: Their occurred_at (well inside every retention).
        sinks: Serve the generated content.
        rng: Picks kinds, sizes and where the duplicates go (seeded: a run can be repeated).
        mix: The shares; the default mix when None.
    """
    mix = mix or Mix()
    kinds = ["call", "email_plain", "email_content", "chat"]
    weights = [mix.calls, mix.emails_plain, mix.emails_content, mix.chats]
    expected: dict[EventKey, Expected] = {}
    copies: list[Copy] = []
    for index in range(events):
        kind = rng.choices(kinds, weights)[0]
        event, size, sha = _event(
            kind, run_id=run_id, index=index, at=occurred_at, rng=rng, sinks=sinks, mix=mix
        )
        event["source"] = SOURCES[event["type"]]
        key: EventKey = (event["source"], event["event_id"])
        expected[key] = Expected(key, event["type"], size, sha)
        copies.append(Copy(key, message(event)))
    again = rng.sample(range(len(copies)), round(len(copies) * mix.duplicates))
    # Inserted from the back, so each position still refers to the original order.
    for turn, position in enumerate(sorted(again, reverse=True)):
        first = copies[position]
        later = min(len(copies), position + rng.randint(3, 40))
        copy = Copy(first.key, first.message, republished=True, other_partition=turn % 2 == 1)
        copies.insert(later, copy)
    return Workload(expected, tuple(copies))
