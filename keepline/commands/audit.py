"""`keepline audit list|verify`: the audit trail and its hash chain, over the API."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from keepline.client import EXIT_OK, EXIT_REFUSED, KeeplineClient
from keepline.commands.remote import (
    EXIT_CODES_HELP,
    api_options,
    print_fields,
    print_json,
    print_table,
    remote_command,
    rfc3339,
)

#: The API's largest page.
PAGE = 1000
_DETAILS_WIDTH = 60


def _details(details: dict[str, Any]) -> str:
    text = json.dumps(details, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return text if len(text) <= _DETAILS_WIDTH else text[: _DETAILS_WIDTH - 1] + "…"


def list_entries(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Entries matching the filters, oldest first; pages on with `after` up to --limit."""
    found: list[dict[str, Any]] = []
    after = args.after
    while True:
        want = args.limit - len(found) if args.limit else PAGE
        page = client.get(
            "/v1/audit",
            item_id=args.item,
            actor=args.actor,
            action=args.action,
            since=args.since,
            limit=min(want, PAGE),
            after=after or None,
        )
        found.extend(page["entries"])
        after = page.get("next_after")
        if after is None or (args.limit and len(found) >= args.limit):
            break
    if args.json:
        print_json({"entries": found, "next_after": after}, out)
        return EXIT_OK
    print_table(
        (
            (e["seq"], e["at"], e["actor"], e["action"], e.get("item_id"), _details(e["details"]))
            for e in found
        ),
        ("SEQ", "AT", "ACTOR", "ACTION", "ITEM", "DETAILS"),
        out,
        empty="no audit entries match",
    )
    if after is not None:
        out.write(f"(more: --after {after})\n")
    return EXIT_OK


def verify(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Recompute the chain; exit 1 when it is broken."""
    verdict = client.get("/v1/audit/verify")
    if args.json:
        print_json(verdict, out)
    else:
        print_fields(
            [
                ("chain", "intact" if verdict["ok"] else "BROKEN"),
                ("entries", verdict["entries"]),
                ("head", verdict["head"]),
                *(
                    [("first broken seq", verdict.get("first_broken_seq"))]
                    if not verdict["ok"]
                    else []
                ),
            ],
            out,
        )
    return EXIT_OK if verdict["ok"] else EXIT_REFUSED


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keepline audit`."""
    common = api_options()
    parser = sub.add_parser(
        "audit", help="the audit trail over the API: list, verify", epilog=EXIT_CODES_HELP
    )
    actions = parser.add_subparsers(dest="audit_command", required=True)

    listing = actions.add_parser("list", parents=[common], help="audit entries, oldest first")
    listing.add_argument("--item", metavar="ITEM_ID", help="entries about one item")
    listing.add_argument("--actor", help="entries by one principal")
    listing.add_argument("--action", help="one action, e.g. content.read")
    listing.add_argument("--since", type=rfc3339, help="at or after (RFC 3339)")
    listing.add_argument("--after", type=int, default=0, help="only entries after this seq")
    listing.add_argument(
        "--limit", type=int, default=100, help="at most this many (default 100; 0: all)"
    )
    listing.set_defaults(func=remote_command("audit list", list_entries))

    verifying = actions.add_parser(
        "verify", parents=[common], help="recompute the hash chain (exit 1 if broken)"
    )
    verifying.set_defaults(func=remote_command("audit verify", verify))
