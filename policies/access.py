"""Who may see a stored item: the retrieval rule of purposes, roles and restriction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from policies.models import Policy, PurposeState, Role

__all__ = ["visible_to"]

# Legal answers holds and litigation, privacy answers subject requests: both must see every
# item, restricted ones above all, since a restriction is itself a privacy matter.
_SEES_EVERYTHING = frozenset({Role.LEGAL, Role.PRIVACY})
# Operational roles work on the system, never on the communications in it.
_SEES_NOTHING = frozenset({Role.ADMIN, Role.AUDITOR, Role.INGEST})


def visible_to(
    *,
    role: str,
    item_purposes: Iterable[PurposeState],
    restricted: bool,
    purpose: str | None,
    policy: Policy,
    now: datetime,
) -> bool:
    """Whether a caller in ``role`` may see an item, retrieving it for ``purpose``.

    ``legal`` and ``privacy`` see every item, restricted ones included. ``admin``,
    ``auditor`` and ``ingest`` see none. Any other role (``qa``, or a role a policy names,
    such as ``marketing``) sees an item only when it names a purpose, the item carries that
    purpose unexpired at ``now``, the policy lets the role use that purpose, and the item
    is not restricted.

    Args:
        role: The caller's role.
        item_purposes: The item's current purposes.
        restricted: Whether processing of the item is restricted (GDPR Art. 18).
        purpose: The purpose the caller retrieves for, if any.
        policy: The active policy, which says which roles may use a purpose.
        now: The instant of the request (aware).

    Returns:
        True when the item may be shown; callers answer 404 otherwise.
    """
    if role in _SEES_EVERYTHING:
        return True
    if role in _SEES_NOTHING or restricted or purpose is None:
        return False
    declared = policy.purposes.get(purpose)
    if declared is None or role not in declared.roles:
        return False
    return any(state.name == purpose and not state.is_expired(now) for state in item_purposes)
