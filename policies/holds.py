"""Legal holds: which items a hold covers, and the JSON form of hold criteria."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from policies.errors import InvalidHoldCriteria
from policies.models import ArtefactType, Hold, HoldCriteria, ItemFacts

__all__ = [
    "active_holds_covering",
    "criteria_from_json",
    "criteria_to_json",
    "fold_address",
    "hold_covers",
]

_SET_FIELDS = ("subject_ids", "addresses", "staff_ids")
_KNOWN_FIELDS = (*_SET_FIELDS, "types", "since", "until", "attributes")


def hold_covers(criteria: HoldCriteria, item: ItemFacts) -> bool:
    """Whether hold criteria cover an item.

    Every criterion given must match; within a criterion any value matches. Addresses are
    compared case-insensitively: a hold that missed ``Alice@Example.com`` because it was
    written in lower case would let evidence be destroyed, while over-matching only keeps
    an item longer.

    Args:
        criteria: The hold's criteria.
        item: The item.

    Returns:
        True when the item matches every given criterion.
    """
    occurred_at = item.occurred_at
    checks = (
        not criteria.subject_ids or not criteria.subject_ids.isdisjoint(item.subject_ids),
        not criteria.staff_ids or not criteria.staff_ids.isdisjoint(item.staff_ids),
        not criteria.addresses
        or not _folded(criteria.addresses).isdisjoint(_folded(item.addresses)),
        not criteria.types or item.type in criteria.types,
        criteria.since is None or criteria.since <= occurred_at,
        criteria.until is None or occurred_at < criteria.until,
    )
    return all(checks) and all(
        item.attributes.get(key) in values for key, values in criteria.attributes.items()
    )


def active_holds_covering(holds: Iterable[Hold], item: ItemFacts) -> tuple[Hold, ...]:
    """The active (unreleased) holds that cover an item, sorted by ``hold_id``.

    Args:
        holds: Candidate holds; released ones are ignored.
        item: The item.

    Returns:
        The covering active holds, in ``hold_id`` order so that answers naming "the" hold
        are deterministic.
    """
    covering = (hold for hold in holds if hold.active and hold_covers(hold.criteria, item))
    return tuple(sorted(covering, key=lambda hold: hold.hold_id))


def criteria_from_json(data: Mapping[str, Any]) -> HoldCriteria:
    """Build hold criteria from their JSON form; see `HoldCriteria.from_json`.

    Args:
        data: The decoded JSON object.

    Returns:
        The validated criteria.

    Raises:
        InvalidHoldCriteria: A field is malformed or nothing is given; names the field.
    """
    if not isinstance(data, Mapping):
        raise InvalidHoldCriteria("", "criteria must be a JSON object")
    unknown = sorted(str(key) for key in data if key not in _KNOWN_FIELDS)
    if unknown:
        raise InvalidHoldCriteria(
            unknown[0], f"unknown criterion; allowed: {', '.join(_KNOWN_FIELDS)}"
        )
    sets = {name: frozenset(_strings(data.get(name), name)) for name in _SET_FIELDS}
    types = frozenset(
        _artefact_type(value, f"types[{index}]")
        for index, value in enumerate(_strings(data.get("types"), "types"))
    )
    return HoldCriteria(
        subject_ids=sets["subject_ids"],
        addresses=sets["addresses"],
        staff_ids=sets["staff_ids"],
        types=types,
        since=_timestamp(data.get("since"), "since"),
        until=_timestamp(data.get("until"), "until"),
        attributes=_attributes(data.get("attributes")),
    )


def criteria_to_json(criteria: HoldCriteria) -> dict[str, object]:
    """The JSON form of hold criteria, giving only the criteria that are given.

    Args:
        criteria: The criteria.

    Returns:
        A JSON object that `criteria_from_json` turns back into equal criteria.
    """
    out: dict[str, object] = {}
    for name in _SET_FIELDS:
        values: frozenset[str] = getattr(criteria, name)
        if values:
            out[name] = sorted(values)
    if criteria.types:
        out["types"] = sorted(str(kind) for kind in criteria.types)
    if criteria.since is not None:
        out["since"] = criteria.since.isoformat()
    if criteria.until is not None:
        out["until"] = criteria.until.isoformat()
    if criteria.attributes:
        out["attributes"] = {
            key: sorted(values) for key, values in sorted(criteria.attributes.items())
        }
    return out


def fold_address(address: str) -> str:
    """An address as holds compare it: case-folded (``STRAßE@x`` and ``strasse@x`` are one).

    The catalog keeps each party's folded address beside it, so that a hold finds its items
    with one indexed comparison; this is the one definition of that fold.
    """
    return address.casefold()


def _folded(addresses: frozenset[str]) -> frozenset[str]:
    return frozenset(fold_address(address) for address in addresses)


def _strings(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidHoldCriteria(name, "must be a list of strings")
    if not value:
        # An empty list would drop the criterion and widen the hold without anyone noticing.
        raise InvalidHoldCriteria(name, "must not be empty; leave it out to match any value")
    for index, element in enumerate(value):
        if not isinstance(element, str) or not element:
            raise InvalidHoldCriteria(f"{name}[{index}]", "must be a non-empty string")
    return value


def _artefact_type(value: str, name: str) -> ArtefactType:
    try:
        return ArtefactType(value)
    except ValueError:
        allowed = ", ".join(kind.value for kind in ArtefactType)
        raise InvalidHoldCriteria(name, f"{value!r} is not one of {allowed}") from None


def _timestamp(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidHoldCriteria(name, "must be an RFC 3339 timestamp string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidHoldCriteria(
            name, f"{value!r} is not an RFC 3339 timestamp, e.g. 2024-01-31T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidHoldCriteria(name, f"{value!r} has no UTC offset (add Z or +hh:mm)")
    return parsed


def _attributes(value: object) -> dict[str, frozenset[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not value:
        raise InvalidHoldCriteria(
            "attributes", "must be a non-empty object of name to value or list of values"
        )
    out: dict[str, frozenset[str]] = {}
    for key, values in value.items():
        name = f"attributes.{key}"
        # A single string is the common case ({"desk": "fx"}); a list gives alternatives.
        listed = [values] if isinstance(values, str) else _strings(values, name)
        if not all(listed):
            raise InvalidHoldCriteria(name, "must be a non-empty string")
        out[str(key)] = frozenset(listed)
    return out
