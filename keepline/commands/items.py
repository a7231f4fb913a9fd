"""`keepline items list|show|download`: stored items, over the API (`GET /v1/items…`).

A QA caller names a purpose (`--purpose`), one of its role's; legal and privacy need not.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import IO, Any, TextIO
from urllib.parse import quote

from keepline.client import EXIT_OK, KeeplineClient
from keepline.commands.remote import (
    EXIT_CODES_HELP,
    add_progress_option,
    api_options,
    byte_progress,
    key_value,
    print_fields,
    print_json,
    print_table,
    remote_command,
    rfc3339,
)

#: The API's largest page.
PAGE = 500


def _query(args: argparse.Namespace) -> dict[str, Any]:
    query: dict[str, Any] = {
        "purpose": args.purpose,
        "type": args.type,
        "subject_id": args.subject,
        "staff_id": args.staff,
        "since": args.since,
        "until": args.until,
    }
    for name, value in args.attr or ():
        query[f"attr.{name}"] = value
    return query


def list_items(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Newest first; `--all` follows the cursor to the end."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        want = args.limit - len(found) if args.limit else PAGE
        page = client.get("/v1/items", **_query(args), limit=min(want, PAGE), cursor=cursor)
        found.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor or (args.limit and len(found) >= args.limit):
            break
    if args.json:
        print_json({"items": found, "next_cursor": cursor}, out)
        return EXIT_OK
    print_table(
        (
            (
                i["item_id"],
                i["type"],
                i["occurred_at"],
                [p["name"] for p in i.get("purposes", [])],
                len(i.get("holds", [])),
                i.get("restricted"),
                (i.get("content") or {}).get("size_bytes"),
            )
            for i in found
        ),
        ("ITEM", "TYPE", "OCCURRED", "PURPOSES", "HOLDS", "RESTRICTED", "BYTES"),
        out,
        empty="no items match",
    )
    if cursor:
        out.write(f"(more: --limit {len(found) + PAGE} or a narrower filter)\n")
    return EXIT_OK


def show_item(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """One item's metadata, purposes and holds."""
    item = client.get(f"/v1/items/{quote(args.item_id, safe='')}", purpose=args.purpose)
    if args.json:
        print_json(item, out)
        return EXIT_OK
    content = item.get("content") or {}
    print_fields(
        [
            ("item", item["item_id"]),
            ("type", item["type"]),
            ("status", item.get("status")),
            ("occurred", item.get("occurred_at")),
            ("ingested", item.get("ingested_at")),
            ("source", item.get("source")),
            ("policy version", item.get("policy_version")),
            ("restricted", item.get("restricted")),
            ("holds", item.get("holds")),
            ("content type", content.get("content_type")),
            ("size (bytes)", content.get("size_bytes")),
            ("sha256", content.get("sha256")),
        ],
        out,
    )
    print_table(
        ((p["name"], p["basis"], p["expires_at"]) for p in item.get("purposes", [])),
        ("PURPOSE", "BASIS", "EXPIRES"),
        out,
        empty="no purpose",
    )
    return EXIT_OK


def save(
    client: KeeplineClient,
    path: str,
    output: str,
    *,
    progress: bool | None,
    label: str,
    **params: Any,
) -> tuple[str, int]:
    """Stream path into the file output (``-``: stdout), whole or not at all.

    The bytes go to ``<output>.part`` first, renamed when complete, so an interrupted
    download never leaves a file that looks whole.
    """
    bar = byte_progress(label, progress, sys.stderr)
    try:
        if output == "-":
            written = client.download(path, sys.stdout.buffer, progress=bar, **params)
            sys.stdout.buffer.flush()
            return output, written
        target = Path(output)
        partial = target.with_name(target.name + ".part")
        try:
            handle: IO[bytes]
            with partial.open("wb") as handle:
                written = client.download(path, handle, progress=bar, **params)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return str(target), written
    finally:
        if bar is not None:
            bar.close()


def download_item(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """The decrypted content into a file (default: the item id) or stdout."""
    output = args.output or args.item_id
    where, written = save(
        client,
        f"/v1/items/{quote(args.item_id, safe='')}/content",
        output,
        progress=args.progress,
        label=args.item_id,
        purpose=args.purpose,
    )
    if where != "-":
        if args.json:
            print_json({"item_id": args.item_id, "file": where, "bytes": written}, out)
        else:
            out.write(f"{args.item_id}: {written} bytes written to {where}\n")
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keepline items`."""
    common = api_options()
    parser = sub.add_parser(
        "items", help="stored items over the API: list, show, download", epilog=EXIT_CODES_HELP
    )
    actions = parser.add_subparsers(dest="items_command", required=True)

    listing = actions.add_parser("list", parents=[common], help="items, newest first")
    listing.add_argument("--purpose", help="the purpose you read for (required for qa)")
    listing.add_argument("--type", choices=("call_recording", "email", "chat"))
    listing.add_argument("--subject", metavar="SUBJECT_ID", help="a data subject's items")
    listing.add_argument("--staff", metavar="STAFF_ID", help="a staff member's items")
    listing.add_argument("--since", type=rfc3339, help="occurred at or after (RFC 3339)")
    listing.add_argument("--until", type=rfc3339, help="occurred before (RFC 3339)")
    listing.add_argument(
        "--attr", type=key_value, action="append", metavar="NAME=VALUE", help="an attribute"
    )
    listing.add_argument(
        "--limit",
        type=int,
        default=50,
        help="at most this many (default 50; 0: every item, following the cursor)",
    )
    listing.set_defaults(func=remote_command("items list", list_items))

    show = actions.add_parser("show", parents=[common], help="one item's metadata")
    show.add_argument("item_id")
    show.add_argument("--purpose", help="the purpose you read for (required for qa)")
    show.set_defaults(func=remote_command("items show", show_item))

    download = actions.add_parser(
        "download", parents=[common], help="an item's decrypted content, with a progress bar"
    )
    download.add_argument("item_id")
    download.add_argument("--purpose", help="the purpose you read for (required for qa)")
    download.add_argument(
        "-o", "--output", help="the file to write (default: the item id; '-': stdout)"
    )
    add_progress_option(download)
    download.set_defaults(func=remote_command("items download", download_item))
