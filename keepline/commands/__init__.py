"""Subcommands of `keepline` beyond `serve`: each registers its parser and runs one job.

Building the parser imports nothing heavy: a command's module imports the application, the
stores and their drivers inside the functions that run it, so `keepline --help` and the
operator commands that only speak HTTP start in well under a second.
"""

from __future__ import annotations

import argparse

#: The shortest wait for the sweeper's lease (seconds), whatever the sweep interval.
MIN_LEASE_WAIT_S = 60.0


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
        default=None,
        help="how long to wait for a running sweep to finish its pass (seconds; default "
        f"twice KEEPLINE_SWEEP_INTERVAL_S, at least {MIN_LEASE_WAIT_S:g})",
    )


def lease_wait_s(args: argparse.Namespace) -> float:
    """The --wait-s given, or twice the configured sweep interval (at least a minute)."""
    if args.wait_s is not None:
        return float(args.wait_s)
    from streams.settings import StreamSettings

    return max(MIN_LEASE_WAIT_S, 2 * StreamSettings().sweep_interval_s)
