"""Private key files: created 0600 in a 0700 folder, saved atomically, locked while changed.

The key ring and the signing keys are both small JSON files that must never be readable by
anyone but their owner, must survive a crash in the middle of a save, and may be changed by a
command while a service reads them. This module is that discipline, once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from storage.errors import KeyRingError


def stamp_of(st: os.stat_result) -> tuple[int, int, int, int]:
    """What identifies one saved version of a key file.

    Every save is a rename of a new file, so the inode alone changes; size and times guard
    against the kernel reusing a freed inode number.
    """
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def current_stamp(path: Path, *, loaded: bool, what: str) -> tuple[int, int, int, int] | None:
    """The stamp of the key file on disk; None when it is not there yet (create it).

    Raises:
        KeyRingError: The file was loaded before and is gone now: restoring it from backup
            is the fix, never a new file (its keys would be lost for good).
    """
    try:
        return stamp_of(os.stat(path))
    except FileNotFoundError:
        if loaded:
            raise KeyRingError(
                f"{what} {path} disappeared; restore it from backup", path=str(path)
            ) from None
        return None


def private_folder(folder: Path) -> None:
    """Create ``folder`` (mode 0700) if it does not exist yet."""
    try:
        folder.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        return
    folder.chmod(0o700)  # mkdir's mode is filtered by the umask


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``<path>.lock`` for as long as the block runs."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def read_private(path: Path, *, what: str) -> tuple[bytes, tuple[int, int, int, int]]:
    """The bytes of a key file and its stamp; refused if group or others may use it.

    Raises:
        KeyRingError: The file cannot be opened, or its mode lets others read or write it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as err:
        raise KeyRingError(f"cannot open {what} {path}: {err.strerror}", path=str(path)) from None
    with os.fdopen(fd, "rb") as file:
        st = os.fstat(file.fileno())
        if st.st_mode & 0o077:
            raise KeyRingError(
                f"{what} {path} is accessible to group or others; run: chmod 600 {path}",
                path=str(path),
            )
        return file.read(), stamp_of(st)


def write_private(path: Path, data: bytes) -> tuple[int, int, int, int]:
    """Replace the key file atomically (temporary file, fsync, rename, fsync of the folder).

    Returns:
        The stamp of the new file.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return stamp_of(os.stat(path))
