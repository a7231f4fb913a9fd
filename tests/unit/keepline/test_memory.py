"""keepline.memory: malloc keeps large buffers in mappings of their own."""

from __future__ import annotations

import platform
import sys

import pytest

from keepline import memory


def test_glibc_takes_the_tuning() -> None:
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert memory.return_large_buffers() is glibc


def test_elsewhere_it_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    assert not memory.return_large_buffers()
    monkeypatch.setattr(memory.sys, "platform", "linux")
    monkeypatch.setattr(memory.ctypes.util, "find_library", lambda _name: None)
    assert not memory.return_large_buffers()
