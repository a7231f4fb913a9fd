"""Subcommands of `keepline` beyond `serve`: each registers its parser and runs one job."""

from __future__ import annotations

import argparse

from streams.settings import StreamSettings


def add_lease_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by the commands that take the sweeper's lease (sweep, policy apply)."""
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: when stderr is a terminal)",
    )
    parser.add_argument(
        "--wait-s",
        type=float,
        default=max(60.0, 2 * StreamSettings().sweep_interval_s),
        help="how long to wait for a running sweep to finish its pass (seconds)",
    )
