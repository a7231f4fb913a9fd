"""`keepline holds preview|place|list|release`: legal holds, over the API (`/v1/holds`)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO
from urllib.parse import quote

from keepline.client import EXIT_OK, KeeplineClient
from keepline.commands.remote import (
    EXIT_CODES_HELP,
    api_options,
    key_value,
    print_fields,
    print_json,
    print_table,
    remote_command,
    rfc3339,
)


def criteria(args: argparse.Namespace) -> dict[str, Any]:
    """The criteria options as the API's ``criteria`` object (SPEC section 5)."""
    found: dict[str, Any] = {}
    for option, field in (
        ("subject", "subject_ids"),
        ("address", "addresses"),
        ("staff", "staff_ids"),
        ("type", "types"),
    ):
        values = getattr(args, option)
        if values:
            found[field] = list(values)
    if args.since:
        found["since"] = args.since
    if args.until:
        found["until"] = args.until
    attributes: dict[str, list[str]] = {}
    for name, value in args.attr or ():
        attributes.setdefault(name, []).append(value)
    if attributes:
        found["attributes"] = attributes
    return found


def _hold_row(hold: dict[str, Any]) -> tuple[Any, ...]:
    return (
        hold["hold_id"],
        hold["matter"],
        "active" if hold["active"] else "released",
        hold["matched"],
        hold["created_at"],
        hold.get("released_at"),
    )


_HOLD_HEADERS = ("HOLD", "MATTER", "STATE", "ITEMS", "PLACED", "RELEASED")


def _print_hold(hold: dict[str, Any], out: TextIO) -> None:
    print_fields(
        [
            ("hold", hold["hold_id"]),
            ("matter", hold["matter"]),
            ("state", "active" if hold["active"] else "released"),
            ("items covered", hold["matched"]),
            ("placed", f"{hold['created_at']} by {hold['created_by']}"),
            (
                "released",
                f"{hold['released_at']} by {hold['released_by']}" if hold["released_at"] else None,
            ),
            ("criteria", ", ".join(f"{k}={v}" for k, v in sorted(hold["criteria"].items()))),
        ],
        out,
    )


def preview(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """How many items the criteria cover, placing nothing."""
    answer = client.post("/v1/holds/preview", {"criteria": criteria(args)})
    if args.json:
        print_json(answer, out)
    else:
        out.write(f"a hold on these criteria would cover {answer['matched']} items\n")
    return EXIT_OK


def place(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Place the hold; its id and count."""
    hold = client.post(
        "/v1/holds",
        {"matter": args.matter, "description": args.description, "criteria": criteria(args)},
    )
    if args.json:
        print_json(hold, out)
    else:
        _print_hold(hold, out)
    return EXIT_OK


def list_holds(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Every hold (or only active or released ones), newest first, with counts."""
    answer = client.get("/v1/holds", active=None if args.state == "all" else args.state == "active")
    if args.json:
        print_json(answer, out)
        return EXIT_OK
    print_table((_hold_row(h) for h in answer["holds"]), _HOLD_HEADERS, out, empty="no holds")
    return EXIT_OK


def show(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """One hold."""
    hold = client.get(f"/v1/holds/{quote(args.hold_id, safe='')}")
    if args.json:
        print_json(hold, out)
    else:
        _print_hold(hold, out)
    return EXIT_OK


def release(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Release the hold; its covered items resume normal retention."""
    body = {"reason": args.reason} if args.reason else None
    hold = client.post(f"/v1/holds/{quote(args.hold_id, safe='')}/release", body)
    if args.json:
        print_json(hold, out)
    else:
        out.write(
            f"released hold {hold['hold_id']} ({hold['matter']}): "
            f"{hold['matched']} items resume normal retention\n"
        )
    return EXIT_OK


def _criteria_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("criteria (every one given must match; repeat to list)")
    group.add_argument("--subject", action="append", metavar="SUBJECT_ID")
    group.add_argument("--address", action="append", metavar="ADDRESS")
    group.add_argument("--staff", action="append", metavar="STAFF_ID")
    group.add_argument("--type", action="append", choices=("call_recording", "email", "chat"))
    group.add_argument("--since", type=rfc3339, help="occurred at or after (RFC 3339)")
    group.add_argument("--until", type=rfc3339, help="occurred before (RFC 3339)")
    group.add_argument("--attr", type=key_value, action="append", metavar="NAME=VALUE")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keepline holds`."""
    common = api_options()
    parser = sub.add_parser(
        "holds",
        help="legal holds over the API: preview, place, list, release",
        epilog=EXIT_CODES_HELP,
    )
    actions = parser.add_subparsers(dest="holds_command", required=True)

    previewing = actions.add_parser(
        "preview", parents=[common], help="how many items criteria would cover"
    )
    _criteria_options(previewing)
    previewing.set_defaults(func=remote_command("holds preview", preview))

    placing = actions.add_parser("place", parents=[common], help="place a legal hold")
    placing.add_argument("--matter", required=True, help="the legal matter")
    placing.add_argument("--description", default="", help="free text")
    _criteria_options(placing)
    placing.set_defaults(func=remote_command("holds place", place))

    listing = actions.add_parser("list", parents=[common], help="holds with their counts")
    listing.add_argument(
        "--state", choices=("all", "active", "released"), default="all", help="default: all"
    )
    listing.set_defaults(func=remote_command("holds list", list_holds))

    showing = actions.add_parser("show", parents=[common], help="one hold with its count")
    showing.add_argument("hold_id")
    showing.set_defaults(func=remote_command("holds show", show))

    releasing = actions.add_parser("release", parents=[common], help="release a hold")
    releasing.add_argument("hold_id")
    releasing.add_argument("--reason", help="why (the `reason` of SPEC section 7)")
    releasing.set_defaults(func=remote_command("holds release", release))
