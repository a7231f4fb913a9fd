"""`keepline verify BUNDLE.zip --keys signing-keys.json`: check a production or certificate.

Works offline, without a catalog, a broker or an object store: the signature over
`manifest.json` against the saved public keys (`GET /v1/signing-keys`), then every file's
sha256 and size, then that no file was added. Exit 0 when it holds, 1 with one line per file
that fails, 2 when the bundle or the key set cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from service.signing.bundle import BundleVerdict

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNREADABLE = 2
_PIECE_BYTES = 1 << 20


class ZipBundle:
    """A bundle read from a zip file, one member at a time."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self._archive = archive

    def names(self) -> list[str]:
        """Every file member's name."""
        return [info.filename for info in self._archive.infolist() if not info.is_dir()]

    def chunks(self, name: str) -> Iterator[bytes]:
        """The member's bytes, a megabyte at a time.

        Raises:
            ValueError: The member cannot be read back (its zip checksum or compressed
                data is broken: it was altered), naming it.
        """
        try:
            with self._archive.open(name) as member:
                while piece := member.read(_PIECE_BYTES):
                    yield piece
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise ValueError(f"{name}: cannot be read back from the zip ({exc})") from None


def verify_file(bundle: Path, jwks: dict[str, Any]) -> BundleVerdict:
    """Check the bundle at ``bundle`` against the key set ``jwks``.

    Raises:
        zipfile.BadZipFile: Not a zip.
        OSError: It cannot be read.
    """
    from service.signing.bundle import check_bundle
    from storage.crypto.signing import verify_signature

    with zipfile.ZipFile(bundle) as archive:
        return check_bundle(
            ZipBundle(archive), lambda kid, data, sig: verify_signature(jwks, kid, data, sig)
        )


def run(bundle: Path, keys: Path, out: TextIO, err: TextIO) -> int:
    """Verify and report; returns the exit code."""
    try:
        jwks = json.loads(keys.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        err.write(
            f"keepline verify: cannot read the key set {keys}: {exc}. Save it with: "
            "curl -H 'Authorization: Bearer …' $KEEPLINE_URL/v1/signing-keys > signing-keys.json\n"
        )
        return EXIT_UNREADABLE
    try:
        verdict = verify_file(bundle, jwks)
    except (OSError, zipfile.BadZipFile, KeyError) as exc:
        err.write(f"keepline verify: cannot read {bundle} as a zip: {exc}\n")
        return EXIT_UNREADABLE
    if verdict.ok:
        out.write(
            f"{bundle}: OK, {verdict.kind} of {verdict.files} files, signed by key {verdict.kid}\n"
        )
        return EXIT_OK
    for problem in verdict.problems:
        out.write(f"{bundle}: FAILED: {problem}\n")
    return EXIT_FAILED


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `keepline verify`."""
    parser = sub.add_parser(
        "verify",
        help="check a production or disposal certificate offline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("bundle", type=Path, help="the production or certificate zip")
    parser.add_argument(
        "--keys", type=Path, required=True, help="the saved GET /v1/signing-keys JSON"
    )
    parser.set_defaults(func=lambda args: run(args.bundle, args.keys, sys.stdout, sys.stderr))
