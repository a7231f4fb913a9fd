"""What the operator commands over the HTTP API share: options, errors, tables, progress.

Each command is ``action(client, args, out) -> int``; `remote_command` wraps it so that the
settings are read, the client is opened and closed, and an API error ends the command with
its documented exit code and one line on stderr (never a traceback, never the token).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from pydantic import ValidationError

from keepline.client import (
    EXIT_USAGE,
    ApiError,
    ClientSettings,
    KeeplineClient,
)

#: The exit codes of every command over the API, for --help.
EXIT_CODES_HELP = (
    "exit codes of the commands over the API (items, holds, subjects, audit, policy show|diff|"
    "apply --api): 0 done; 1 refused by the API (401 not signed in, 403 role, 404 not found, "
    "409 conflict, 422 invalid) or a check that failed (audit verify: chain broken); 2 usage "
    "or settings (bad arguments, KEEPLINE_TOKEN unset, KEEPLINE_URL not http(s)); 3 the API "
    "is unreachable or answered with a server error (5xx). They read KEEPLINE_URL (or --url) "
    "and KEEPLINE_TOKEN, print tables, or JSON with --json."
)

Action = Callable[[KeeplineClient, argparse.Namespace, TextIO], int]


def api_options() -> argparse.ArgumentParser:
    """The options of every command over the API (a parent parser)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("API")
    group.add_argument(
        "--url",
        default=None,
        help="the API's base URL (default: KEEPLINE_URL, else http://127.0.0.1:8080); "
        "the bearer token is read from KEEPLINE_TOKEN",
    )
    group.add_argument(
        "--json", action="store_true", help="print JSON (for scripts) instead of a table"
    )
    return parent


def client_settings(url: str | None) -> ClientSettings:
    """The environment's settings, with --url over KEEPLINE_URL."""
    settings = ClientSettings()
    return settings.model_copy(update={"url": url}) if url else settings


def remote_command(name: str, action: Action) -> Callable[[argparse.Namespace], int]:
    """An argparse ``func`` that runs action with a client; errors become exit codes."""

    def run(args: argparse.Namespace) -> int:
        try:
            settings = client_settings(args.url)
        except ValidationError as err:
            first = err.errors()[0]
            sys.stderr.write(
                f"keepline {name}: setting KEEPLINE_{str(first['loc'][0]).upper()}: "
                f"{first['msg']}\n"
            )
            return EXIT_USAGE
        try:
            with KeeplineClient(settings) as client:
                return action(client, args, sys.stdout)
        except ApiError as err:
            sys.stderr.write(f"keepline {name}: {err}\n")
            return err.exit_code
        except OSError as err:  # a file to write or read
            sys.stderr.write(f"keepline {name}: {err}\n")
            return EXIT_USAGE

    return run


def print_json(value: Any, out: TextIO) -> None:
    """One JSON document, indented for people who pipe it to a pager too."""
    out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value) or "-"
    text = str(value)
    return " ".join(text.split())  # no control character breaks a row


def print_table(
    rows: Iterable[Sequence[Any]], headers: Sequence[str], out: TextIO, *, empty: str
) -> None:
    """Rows in aligned columns under headers; ``empty`` when there are none."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        out.write(empty + "\n")
        return
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [headers, *cells]
    for line in lines:
        out.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() + "\n")


def print_fields(pairs: Iterable[tuple[str, Any]], out: TextIO) -> None:
    """Name: value lines, names aligned."""
    listed = list(pairs)
    width = max((len(k) for k, _ in listed), default=0)
    for key, value in listed:
        out.write(f"{key.ljust(width)}  {_cell(value)}\n")


def rfc3339(value: str) -> str:
    """An argparse type: an RFC 3339 timestamp with an offset, passed on as given."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an RFC 3339 timestamp with an offset, e.g. 2026-01-31T09:00:00Z"
        )
    return value


def key_value(value: str) -> tuple[str, str]:
    """An argparse type: ``name=value``."""
    name, sep, rest = value.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{value!r} is not name=value")
    return name, rest


def _size(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":  # noqa: PLR2004 - binary units
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"  # pragma: no cover - the loop returns


class ByteProgress:
    """A one-line download bar on a stream, redrawn in place: bytes of total (or so far)."""

    def __init__(self, label: str, stream: TextIO, *, width: int = 30) -> None:
        self._label = label
        self._stream = stream
        self._width = width
        self._drawn = False

    def __call__(self, done: int, total: int | None) -> None:
        """Redraw for done bytes of total (None: unknown)."""
        if total:
            filled = self._width * min(done, total) // total
            bar = "#" * filled + "-" * (self._width - filled)
            self._stream.write(f"\r{self._label} [{bar}] {_size(done)} of {_size(total)}")
        else:
            self._stream.write(f"\r{self._label} {_size(done)}")
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def byte_progress(label: str, flag: bool | None, stream: TextIO) -> ByteProgress | None:
    """The bar --progress asks for; by default one when stream is a terminal."""
    if flag is None:
        flag = stream.isatty()
    return ByteProgress(label, stream) if flag else None


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--progress/--no-progress``."""
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="draw a progress bar on stderr (default: when stderr is a terminal)",
    )
