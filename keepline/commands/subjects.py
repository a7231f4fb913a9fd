"""`keepline subjects export|erase|restrict|object|consent`: data-subject requests, over the API.

The subject id goes only into the request path (percent-encoded); it is never logged.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO
from urllib.parse import quote

from keepline.client import EXIT_OK, EXIT_USAGE, KeeplineClient
from keepline.commands.items import save
from keepline.commands.remote import (
    EXIT_CODES_HELP,
    add_progress_option,
    api_options,
    print_json,
    print_table,
    remote_command,
)


def subject_path(subject_id: str, action: str) -> str:
    """``/v1/subjects/{subject_id}/{action}``, the id percent-encoded."""
    return f"/v1/subjects/{quote(subject_id, safe='')}/{action}"


def export(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """The subject's zip (items.json and each item's content) into a file."""
    where, written = save(
        client,
        subject_path(args.subject_id, "export"),
        args.output,
        progress=args.progress,
        label="export",
    )
    if where != "-":
        if args.json:
            print_json({"file": where, "bytes": written}, out)
        else:
            out.write(f"export written to {where} ({written} bytes)\n")
    return EXIT_OK


def erase(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Erase what may be erased; the report names what was kept and why."""
    if not args.yes:
        sys.stderr.write(
            "keepline subjects erase: erasure cannot be undone; "
            "run `keepline items list --subject …` to see the items, then add --yes\n"
        )
        return EXIT_USAGE
    report = client.post(subject_path(args.subject_id, "erasure"))
    if args.json:
        print_json(report, out)
        return EXIT_OK
    out.write(
        f"erasure {report.get('request_id', '')}: {len(report['erased'])} items erased, "
        f"{len(report['retained'])} retained\n"
    )
    deferred = set(report.get("deferred", []))
    print_table(
        [
            *(("erased", item_id, "") for item_id in report["erased"]),
            *(
                ("deferred" if r["item_id"] in deferred else "retained", r["item_id"], r["reason"])
                for r in report["retained"]
            ),
        ],
        ("OUTCOME", "ITEM", "REASON"),
        out,
        empty="no item of this subject is stored",
    )
    return EXIT_OK


def restrict(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Restrict processing of the subject's items (GDPR Art. 18), or lift it."""
    answer = client.post(
        subject_path(args.subject_id, "restriction"), {"restricted": not args.lift}
    )
    if args.json:
        print_json(answer, out)
        return EXIT_OK
    state = "restricted" if answer["restricted"] else "not restricted"
    change = "" if answer.get("changed") else " (already so)"
    out.write(f"the subject's items are now {state}{change}\n")
    return EXIT_OK


def object_to(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Record an objection (GDPR Art. 21) to the purposes named, or to all."""
    body = {"purposes": args.purpose} if args.purpose else None
    answer = client.post(subject_path(args.subject_id, "objection"), body)
    if args.json:
        print_json(answer, out)
        return EXIT_OK
    named = ", ".join(answer["purposes"]) if answer.get("purposes") else "every purpose"
    out.write(f"objection to {named} recorded: {len(answer['items_changed'])} items changed\n")
    if answer.get("ignored"):
        out.write(f"not based on legitimate interests, so kept: {', '.join(answer['ignored'])}\n")
    return EXIT_OK


def consent(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Grant or withdraw consent for one purpose."""
    answer = client.post(
        subject_path(args.subject_id, "consent"),
        {"purpose": args.purpose, "granted": args.decision == "grant"},
    )
    if args.json:
        print_json(answer, out)
        return EXIT_OK
    verb = "granted" if answer["granted"] else "withdrawn"
    change = "" if answer.get("changed") else " (already so)"
    out.write(
        f"consent for {answer['purpose']} {verb}{change}: "
        f"{len(answer['items_changed'])} items changed\n"
    )
    return EXIT_OK


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keepline subjects`."""
    common = api_options()
    parser = sub.add_parser(
        "subjects",
        help="data-subject requests over the API: export, erase, restrict, …",
        epilog=EXIT_CODES_HELP,
    )
    actions = parser.add_subparsers(dest="subjects_command", required=True)

    exporting = actions.add_parser(
        "export", parents=[common], help="download the subject's export zip"
    )
    exporting.add_argument("subject_id")
    exporting.add_argument(
        "-o", "--output", default="export.zip", help="the file (default export.zip; '-': stdout)"
    )
    add_progress_option(exporting)
    exporting.set_defaults(func=remote_command("subjects export", export))

    erasing = actions.add_parser("erase", parents=[common], help="erase the subject's items")
    erasing.add_argument("subject_id")
    erasing.add_argument("--yes", action="store_true", help="yes, erase (it cannot be undone)")
    erasing.set_defaults(func=remote_command("subjects erase", erase))

    restricting = actions.add_parser(
        "restrict", parents=[common], help="restrict the subject's items, or --lift"
    )
    restricting.add_argument("subject_id")
    restricting.add_argument("--lift", action="store_true", help="lift the restriction")
    restricting.set_defaults(func=remote_command("subjects restrict", restrict))

    objecting = actions.add_parser(
        "object", parents=[common], help="record an objection to purposes (default: all)"
    )
    objecting.add_argument("subject_id")
    objecting.add_argument("--purpose", action="append", help="a purpose (repeat to list)")
    objecting.set_defaults(func=remote_command("subjects object", object_to))

    consenting = actions.add_parser(
        "consent", parents=[common], help="grant or withdraw consent for a purpose"
    )
    consenting.add_argument("subject_id")
    consenting.add_argument("decision", choices=("grant", "withdraw"))
    consenting.add_argument("purpose")
    consenting.set_defaults(func=remote_command("subjects consent", consent))
