"""`keepline policy show|diff`, and `keepline policy apply FILE --api`: the policy over the API.

`show` prints the active version (`GET /v1/policy`); `diff FILE` prints how FILE differs
from it, line by line, and what activating it would change for stored items
(`POST /v1/policy/dry-run`); `apply FILE --api` (or with `--url`) activates FILE through
`PUT /v1/policy` as an admin. Without `--api` or `--url`, `policy apply` is the local
command that also re-decides the stored items' purposes, as before.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from keepline.client import EXIT_OK, EXIT_USAGE, KeeplineClient
from keepline.commands.remote import api_options, print_json, print_table, remote_command

#: The API refuses larger bodies (413); a file this large is not a policy.
MAX_POLICY_BYTES = 256 * 1024


class PolicyFileError(OSError):
    """The policy file cannot be read as a policy's text."""


def read_policy_file(path: Path) -> str:
    """The file's text, refused when too large or not UTF-8 (OSError, so exit 2)."""
    if path.stat().st_size > MAX_POLICY_BYTES:
        raise PolicyFileError(f"{path} is larger than {MAX_POLICY_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise PolicyFileError(f"{path} is not UTF-8 text") from err


def _purpose_rows(policy: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (name, p.get("basis"), p.get("retention"), p.get("roles"), p.get("worm"))
        for name, p in sorted(policy["purposes"].items())
    ]


def show(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """The active version: its purposes and rules, or its YAML with --text."""
    policy = client.get("/v1/policy")
    if args.json:
        print_json(policy, out)
        return EXIT_OK
    if args.text:
        out.write(policy["text"] if policy["text"].endswith("\n") else policy["text"] + "\n")
        return EXIT_OK
    out.write(f"active policy version {policy['version']}\n")
    print_table(
        _purpose_rows(policy),
        ("PURPOSE", "BASIS", "RETENTION", "ROLES", "WORM"),
        out,
        empty="no purposes",
    )
    print_table(
        (
            (
                n,
                ", ".join(f"{k}={v}" for k, v in sorted(r["match"].items())) or "(any item)",
                r["purposes"],
            )
            for n, r in enumerate(policy["rules"], start=1)
        ),
        ("RULE", "MATCH", "PURPOSES"),
        out,
        empty="no rules",
    )
    return EXIT_OK


def diff(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """FILE against the active version, then the dry-run's counts."""
    text = read_policy_file(args.file)
    active = client.get("/v1/policy")
    plan = client.post_text("/v1/policy/dry-run", text)
    lines = list(
        difflib.unified_diff(
            active["text"].splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"active ({active['version']})",
            tofile=str(args.file),
        )
    )
    if args.json:
        print_json({"active_version": active["version"], "diff": "".join(lines), **plan}, out)
        return EXIT_OK
    out.writelines(line if line.endswith("\n") else line + "\n" for line in lines)
    if not lines:
        out.write("the file's text is the active policy's\n")
    out.write(
        f"activating it would change {plan.get('items_changed', 0)} of "
        f"{plan.get('items_examined', 0)} stored items\n"
    )
    rows = [
        (kind, purpose, count)
        for kind, counts in sorted(plan.get("changes", {}).items())
        for purpose, count in counts.items()
    ]
    print_table(rows, ("CHANGE", "PURPOSE", "ITEMS"), out, empty="no purpose changes")
    destroyable = plan.get("would_become_destroyable", {})
    if destroyable.get("count"):
        out.write(
            f"{destroyable['count']} items would become destroyable: "
            f"{', '.join(destroyable.get('item_ids', []))}\n"
        )
    return EXIT_OK


def apply_remote(client: KeeplineClient, args: argparse.Namespace, out: TextIO) -> int:
    """Activate FILE through PUT /v1/policy."""
    answer = client.put_text("/v1/policy", read_policy_file(Path(args.file)))
    if args.json:
        print_json(answer, out)
        return EXIT_OK
    if answer.get("activated"):
        out.write(
            f"policy {answer['previous_version']} -> {answer['version']} activated; items "
            "ingested from now on get its purposes (stored items: keepline policy apply on "
            "the server)\n"
        )
    else:
        out.write(f"policy {answer['version']} is already the active version\n")
    return EXIT_OK


def extend(
    actions: argparse._SubParsersAction[argparse.ArgumentParser],
    apply: argparse.ArgumentParser,
    local_apply: Callable[[argparse.Namespace], int],
) -> None:
    """Add show and diff to `keepline policy`, and --api/--url to its apply."""
    common = api_options()
    showing = actions.add_parser("show", parents=[common], help="the active policy (API)")
    showing.add_argument("--text", action="store_true", help="print the policy's YAML")
    showing.set_defaults(func=remote_command("policy show", show))

    diffing = actions.add_parser(
        "diff",
        parents=[common],
        help="a policy file against the active one, and what it would change (API)",
    )
    diffing.add_argument("file", type=Path, help="the policy YAML (SPEC section 4)")
    diffing.set_defaults(func=remote_command("policy diff", diff))

    apply.add_argument(
        "--api",
        action="store_true",
        help="activate through PUT /v1/policy (admin token in KEEPLINE_TOKEN) instead of "
        "locally; implied by --url",
    )
    apply.add_argument("--url", default=None, help="the API's base URL (default: KEEPLINE_URL)")
    remote = remote_command("policy apply", apply_remote)

    def run(args: argparse.Namespace) -> int:
        if not (args.api or args.url):
            return local_apply(args)
        if args.dry_run:
            sys.stderr.write(
                "keepline policy apply: with --api, see what it would change with "
                "`keepline policy diff FILE`\n"
            )
            return EXIT_USAGE
        return remote(args)

    apply.set_defaults(func=run)
