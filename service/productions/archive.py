"""What goes into a production zip, and the pipe that streams it to the object store.

A production is written as a zip straight into an upload: `ZipPipe` is the file the zip
writer writes to, and the iterator the vault's upload reads from, with a few megabytes
between them. Nothing is spooled to disk and no production is held in memory, whatever its
size. The zip is written for a stream (data descriptors, ZIP64 where a member may need it),
which every zip reader understands.

Members: ``natives/<control number><ext>`` for each item with content (the recording as
recorded, the e-mail as ``.eml``, the chat as text), ``loadfile.csv``, ``manifest.json`` and
``manifest.sig`` (`service.signing.bundle`).
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from service.subjects.export import content_extension
from storage.models import ItemRecord

LOADFILE_NAME: Final = "loadfile.csv"
#: The columns of ``loadfile.csv``, in order: what a review platform imports.
LOADFILE_COLUMNS: Final = (
    "control_number",
    "item_id",
    "type",
    "occurred_at",
    "parties",
    "staff",
    "sha256",
    "path",
)
NATIVES_FOLDER: Final = "natives/"
OBJECT_PREFIX: Final = "productions/"
#: Tags of a production's object: what it is, nothing personal.
OBJECT_TAGS: Final = {"kl-type": "production"}
#: Values within one loadfile cell are joined with this.
_JOIN: Final = "; "
#: Bytes the pipe gathers before handing them on, and how many such pieces may wait.
_PIECE_BYTES: Final = 1 << 20
_MAX_WAITING: Final = 4
_WAIT_S: Final = 0.5


def object_key(production_id: str) -> str:
    """Where a production's sealed zip lives (its random id only, no personal data)."""
    return f"{OBJECT_PREFIX}{production_id}"


def control_number(production_id: str, number: int) -> str:
    """The control number of the n-th item: unique across productions, sorted within one."""
    return f"KL-{production_id[:8].upper()}-{number:06d}"


def native_name(control: str, record: ItemRecord) -> str | None:
    """The item's native file in the zip; None for an item stored without content."""
    if record.stored is None:
        return None
    content_type = record.stored.content.content_type
    if record.type == "email":
        extension = ".eml"
    elif record.type == "chat" and content_type.lower().startswith("text/"):
        extension = ".txt"
    else:
        extension = content_extension(content_type)
    return f"{NATIVES_FOLDER}{control}{extension}"


@dataclass(frozen=True, slots=True)
class LoadfileRow:
    """One item's line of ``loadfile.csv``."""

    control_number: str
    item_id: str
    type: str
    occurred_at: str
    parties: str
    staff: str
    sha256: str
    path: str

    @classmethod
    def of(cls, control: str, record: ItemRecord, *, sha256: str, path: str | None) -> LoadfileRow:
        """The row of an item produced as ``path`` (None: metadata only)."""
        parties = record.event.get("parties") or []
        return cls(
            control_number=control,
            item_id=record.item_id,
            type=record.type,
            occurred_at=record.occurred_at.isoformat(),
            parties=_JOIN.join(str(p.get("address", "")) for p in parties),
            staff=_JOIN.join(sorted(record.staff_ids)),
            sha256=sha256,
            path=path or "",
        )


def loadfile_bytes(rows: Sequence[LoadfileRow]) -> bytes:
    """``loadfile.csv``: a header line, then one line per item (RFC 4180, UTF-8)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(LOADFILE_COLUMNS)
    for row in rows:
        writer.writerow([getattr(row, column) for column in LOADFILE_COLUMNS])
    return out.getvalue().encode("utf-8")


class PipeBrokenError(Exception):
    """The other end of the pipe stopped: the upload failed, or the zip was abandoned."""


class _End:
    pass


class _Abort:
    pass


_END: Final = _End()
_ABORT: Final = _Abort()


class ZipPipe:
    """A write-only file for `zipfile` whose bytes an upload reads as an iterator.

    The writer (the zip, on one thread) blocks while ``_MAX_WAITING`` pieces wait for the
    reader (the upload, on another), so memory stays at a few megabytes. Either end stopping
    breaks the pipe: a writer whose reader is gone gets PipeBrokenError, a reader whose
    writer gave up (``abort``) gets it too, so an unfinished zip is never committed.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | _End | _Abort] = queue.Queue(maxsize=_MAX_WAITING)
        self._buffer = bytearray()
        self._reader_gone = threading.Event()
        self.size_bytes = 0

    def write(self, data: bytes) -> int:
        """Take bytes of the zip (blocking while the reader is behind)."""
        self._buffer += data
        self.size_bytes += len(data)
        if len(self._buffer) >= _PIECE_BYTES:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:
        """Nothing to do: pieces go on when they are full or the pipe closes."""

    def close(self) -> None:
        """The zip is complete: hand on what is left and tell the reader it ended."""
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        self._put(_END)

    def abort(self) -> None:
        """The zip will not be finished: make the reader fail instead of completing it."""
        self._buffer.clear()
        while not self._reader_gone.is_set():
            try:
                self._queue.put(_ABORT, timeout=_WAIT_S)
            except queue.Full:
                continue
            return

    def reader_stopped(self) -> None:
        """The reader will read no more (its upload ended, however): unblock the writer."""
        self._reader_gone.set()

    def chunks(self) -> Iterator[bytes]:
        """The zip's bytes as the writer produces them (the upload's side).

        Raises:
            PipeBrokenError: The writer aborted.
        """
        try:
            while True:
                piece = self._queue.get()
                if isinstance(piece, _End):
                    return
                if isinstance(piece, _Abort):
                    raise PipeBrokenError("the production was abandoned before it was complete")
                yield piece
        finally:
            self._reader_gone.set()

    def _put(self, piece: bytes | _End) -> None:
        while True:
            if self._reader_gone.is_set():
                raise PipeBrokenError("the upload of the production stopped")
            try:
                self._queue.put(piece, timeout=_WAIT_S)
            except queue.Full:
                continue
            return
