"""The `keepline` command: parses arguments and calls the composition roots."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from keepline.commands import check, db, dlq, fixity, keys, policy, reconcile, sweep, verify
from keepline.commands.operator import add_operator_commands
from keepline.logs import configure_logging
from keepline.settings import CliSettings


def _serve(args: argparse.Namespace) -> int:
    from keepline.memory import return_large_buffers
    from keepline.serve import serve

    return_large_buffers()  # before any thread starts (see keepline.memory)

    config, mistakes = check.read_configuration()
    if config is None:  # settings that do not even parse: say so in one line each
        check.report(mistakes, sys.stderr)
        return check.EXIT_MISTAKES
    asyncio.run(
        serve(
            api_settings=config.api,
            storage_settings=config.storage,
            stream_settings=config.stream,
            policy_settings=config.policy,
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="keepline", description="Communications retention service."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the stream workers, API and sweeper")
    serve.set_defaults(func=_serve)
    sweep.add_parser(sub)
    policy.add_parser(sub)
    keys.add_parser(sub)
    reconcile.add_parser(sub)
    db.add_parser(sub)
    dlq.add_parser(sub)
    check.add_parser(sub)
    verify.add_parser(sub)
    fixity.add_parser(sub)
    # The operator commands over the HTTP API (KEEPLINE_URL, KEEPLINE_TOKEN)
    add_operator_commands(parser, sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `keepline` console script."""
    try:
        args = build_parser().parse_args(argv)
        configure_logging(verbose=args.verbose, log_format=CliSettings().log_format)
        result: int = args.func(args)
    except ValidationError as err:  # settings that do not parse: one line each, no traceback
        check.report(check.settings_mistakes(err), sys.stderr)
        return check.EXIT_MISTAKES
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
