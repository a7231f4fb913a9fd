"""`keepline dlq`: the most recent dead letters, read from the catalog (no Kafka client)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from service.ingest.errors import DeadLetterReason

if TYPE_CHECKING:
    from storage.settings import StorageSettings
    from storage.sql.dead_letters import DeadLetterRecord


def _since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an RFC 3339 timestamp with an offset, e.g. 2026-01-31T09:00:00Z"
        )
    return parsed


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 1000:  # noqa: PLR2004 - the API's bound
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 1 to 1000")
    return int(value)


async def recent_letters(
    settings: StorageSettings,
    *,
    reason: str | None,
    source: str | None,
    since: datetime | None,
    limit: int,
) -> list[DeadLetterRecord]:
    """The newest dead letters matching the filters (the catalog schema upgraded first)."""
    from keepline.root import build
    from storage.sql.dead_letters import SqlDeadLetters

    root = build(settings)
    try:
        await root.storage.db.create_schema()
        return await SqlDeadLetters(root.storage.db).recent(
            reason=reason, source=source, since=since, limit=limit
        )
    finally:
        await root.close()


def letter_line(letter: DeadLetterRecord) -> str:
    """One letter as a line: when, why, where, which event, what was wrong."""
    event = f"event {letter.event_id!r}" if letter.event_id else "event (none)"
    source = f"source {letter.source!r}" if letter.source else "source (none)"
    return (
        f"{letter.failed_at.isoformat()} {letter.reason} "
        f"{letter.topic}[{letter.partition}]@{letter.offset} {event} {source}: {letter.error}"
    )


def print_letters(letters: list[DeadLetterRecord], *, as_json: bool, out: TextIO) -> None:
    """Each letter, newest first: a line of text or a JSON object."""
    for letter in letters:
        out.write((json.dumps(letter.as_record()) if as_json else letter_line(letter)) + "\n")


def run(args: argparse.Namespace) -> int:
    """Entry point of `keepline dlq`."""
    from storage.settings import StorageSettings

    letters = asyncio.run(
        recent_letters(
            StorageSettings(),
            reason=args.reason,
            source=args.source,
            since=args.since,
            limit=args.limit,
        )
    )
    print_letters(letters, as_json=args.json, out=sys.stdout)
    if not letters and not args.json:
        sys.stderr.write("keepline dlq: no dead letters match\n")
    return 0


def add_parser(sub: Any) -> None:
    """Register `keepline dlq` on the subcommand parsers."""
    parser = sub.add_parser(
        "dlq", help="list the most recent dead letters (messages that could not be accepted)"
    )
    parser.add_argument(
        "--reason", choices=[r.value for r in DeadLetterReason], help="only this reason"
    )
    parser.add_argument("--source", help="only letters whose event named this source")
    parser.add_argument("--since", type=_since, help="only letters at or after this RFC 3339 time")
    parser.add_argument("--limit", type=_limit, default=50, help="at most this many (default 50)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)
