"""Memory of a long-running process: large buffers go back to the operating system.

A recording streams through in parts (multipart upload parts, encrypted segments), each a
few MiB and soon freed. glibc's malloc raises its mmap threshold each time such a block is
freed, after which blocks of that size come from the heap and its per-thread arenas, where
freeing them rarely returns the memory: the resident size then grows with the largest
transfers seen, not with the ones in flight. Fixing the threshold keeps every large buffer
in its own mapping, unmapped as soon as it is freed, and two arenas are enough for a
process whose threads mostly wait on sockets.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

#: mallopt(3) parameters of glibc.
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
#: Blocks from this size up get a mapping of their own.
MMAP_THRESHOLD_BYTES = 256 * 1024
ARENAS = 2


def return_large_buffers() -> bool:
    """Tune glibc's malloc as the module docstring says; False where it is not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    done = bool(mallopt(_M_ARENA_MAX, ARENAS)) and done
    if not done:
        log.debug("malloc tuning refused; large buffers follow malloc's defaults")
    return done
