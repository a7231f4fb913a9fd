"""The operator commands over the HTTP API, registered on `keepline` in one call."""

from __future__ import annotations

import argparse

from keepline.commands import audit, completion, holds, items, subjects
from keepline.commands.remote import EXIT_CODES_HELP


def add_operator_commands(
    parser: argparse.ArgumentParser, sub: argparse._SubParsersAction[argparse.ArgumentParser]
) -> None:
    """Register items, holds, subjects, audit and completion (policy show|diff is on policy)."""
    items.add_parser(sub)
    holds.add_parser(sub)
    subjects.add_parser(sub)
    audit.add_parser(sub)
    completion.add_parser(sub)
    parser.epilog = EXIT_CODES_HELP
