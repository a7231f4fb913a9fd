"""CheckpointWitness: the newest signed audit checkpoint, kept outside the catalog.

The checkpoints live in the catalog (and on the audit topic). Someone with write access to
the catalog could delete every checkpoint row and then rewrite the whole chain: nothing left
in the catalog would disagree. The witness is a private file beside the signing keys (never
in the catalog) holding the newest checkpoint this host wrote, so `verify` finds such a
rewrite without the topic's copies. It only ever moves forward.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from storage.crypto.keyfile import locked, private_folder, read_private, write_private
from storage.errors import KeyRingError
from storage.models import AuditCheckpoint

_WHAT = "audit checkpoint witness"


class CheckpointWitness:
    """A 0600 file with the newest checkpoint: `record` moves it on, `latest` reads it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, checkpoint: AuditCheckpoint) -> None:
        """Keep the checkpoint if it is newer than the one kept (by seq)."""
        private_folder(self.path.parent)
        with locked(self.path):
            kept = self.latest()
            if kept is not None and kept.seq >= checkpoint.seq:
                return
            body = {
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "at": checkpoint.at.isoformat(),
                "kid": checkpoint.kid,
                "signature": checkpoint.signature,
            }
            write_private(self.path, json.dumps(body, sort_keys=True).encode("ascii"))

    def latest(self) -> AuditCheckpoint | None:
        """The checkpoint kept, or None when none was written on this host yet.

        Raises:
            KeyRingError: The file exists but is not private or not a witness.
        """
        if not self.path.exists():
            return None
        data, _ = read_private(self.path, what=_WHAT)
        try:
            body = json.loads(data)
            return AuditCheckpoint(
                int(body["seq"]),
                str(body["hash"]),
                datetime.fromisoformat(body["at"]),
                str(body["kid"]),
                str(body["signature"]),
            )
        except (ValueError, KeyError, TypeError) as err:
            raise KeyRingError(f"{_WHAT} {self.path} is unreadable", path=str(self.path)) from err
