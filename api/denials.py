"""Denied requests, coalesced for the audit trail: one entry per actor, route, reason, minute.

Every 401 and 403 is audited as `access.denied` (SPEC section 7), but a flood of refused
requests must not fill the trail: the first denial of a key in a minute is written at once,
the repeats are only counted, and the count goes into one `access.denied` entry with
`repeats` when that key's minute is over. The number of keys one minute tracks is bounded;
beyond it, denials are counted under one overflow key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Distinct (actor, route, reason) keys one minute tracks before counting the rest together.
MAX_KEYS_PER_MINUTE = 1000
#: The key of denials beyond MAX_KEYS_PER_MINUTE.
OVERFLOW_ACTOR = "(many)"
#: The actor of a request with no valid token.
UNAUTHENTICATED_ACTOR = "(unauthenticated)"


@dataclass(frozen=True, slots=True)
class Denial:
    """One refused request."""

    actor: str
    role: str | None
    method: str
    route: str
    status: int
    reason: str

    def key(self) -> tuple[str, str, str, int, str]:
        """What denials are coalesced by (with the minute)."""
        return (self.actor, self.method, self.route, self.status, self.reason)


@dataclass(frozen=True, slots=True)
class DenialEntry:
    """An `access.denied` entry to append."""

    actor: str
    details: dict[str, Any]


@dataclass(slots=True)
class _Window:
    minute: datetime
    first: dict[tuple[str, str, str, int, str], Denial] = field(default_factory=dict)
    repeats: dict[tuple[str, str, str, int, str], int] = field(default_factory=dict)


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _details(denial: Denial, minute: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "role": denial.role,
        "method": denial.method,
        "route": denial.route,
        "status": denial.status,
        "reason": denial.reason,
        "minute": minute.isoformat(),
        **extra,
    }


class DenialCoalescer:
    """Decides which denials become audit entries (in memory, per process)."""

    def __init__(self, *, max_keys: int = MAX_KEYS_PER_MINUTE) -> None:
        self._max_keys = max_keys
        self._window: _Window | None = None

    def admit(self, denial: Denial, at: datetime) -> list[DenialEntry]:
        """The entries to append for this denial: none for a repeat within its minute.

        When a new minute starts, the repeats counted in the previous one come out first.
        """
        minute = _minute(at)
        out = self._roll(minute)
        window = self._window
        assert window is not None
        key = denial.key()
        if key not in window.first and len(window.first) >= self._max_keys:
            denial = Denial(OVERFLOW_ACTOR, None, "*", "*", denial.status, "overflow")
            key = denial.key()
        if key in window.first:
            window.repeats[key] = window.repeats.get(key, 0) + 1
            return out
        window.first[key] = denial
        out.append(DenialEntry(denial.actor, _details(denial, minute)))
        return out

    def flush(self, at: datetime) -> list[DenialEntry]:
        """The repeats of minutes that are over by `at` (for a periodic flush)."""
        return self._roll(_minute(at))

    def _roll(self, minute: datetime) -> list[DenialEntry]:
        window = self._window
        if window is not None and window.minute == minute:
            return []
        self._window = _Window(minute)
        if window is None:
            return []
        return [
            DenialEntry(
                window.first[key].actor,
                _details(window.first[key], window.minute, repeats=count),
            )
            for key, count in window.repeats.items()
        ]
