"""The policy engine's vocabulary: policies, item facts and legal holds.

Everything here is a frozen value. Collections handed in are copied (sets into frozensets,
mappings into private dicts typed as read-only ``Mapping``), so a value that was valid when
built stays valid even if the caller goes on mutating what it passed. Plain dicts rather
than ``MappingProxyType`` keep the values picklable and usable with `dataclasses.asdict`.
The decisions taken on these values are in `policies.outcomes`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from policies.durations import IsoDuration
from policies.errors import InvalidHoldCriteria, NaiveDatetimeError, PolicyValidationError

__all__ = [
    "ArtefactType",
    "Hold",
    "HoldCriteria",
    "ItemFacts",
    "LawfulBasis",
    "Policy",
    "Purpose",
    "PurposeState",
    "Role",
    "Rule",
]

_VERSION_HEX_CHARS = 16
_K = TypeVar("_K")
_V = TypeVar("_V")


class LawfulBasis(StrEnum):
    """A lawful basis for processing under GDPR Art. 6(1)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


class ArtefactType(StrEnum):
    """The kinds of communication keepline retains."""

    CALL_RECORDING = "call_recording"
    EMAIL = "email"
    CHAT = "chat"


class Role(StrEnum):
    """The API roles keepline itself knows; policies may name further roles for purposes."""

    INGEST = "ingest"
    QA = "qa"
    LEGAL = "legal"
    PRIVACY = "privacy"
    AUDITOR = "auditor"
    ADMIN = "admin"


def _require_aware(value: datetime | None, name: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise NaiveDatetimeError(name)


def _copied(value: Mapping[_K, _V]) -> Mapping[_K, _V]:
    # A private copy, typed read-only: later changes to the caller's dict do not leak in.
    return dict(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class Purpose:
    """A purpose of processing, as declared in the policy file.

    Attributes:
        name: The purpose's name, its key in the policy.
        basis: The lawful basis it rests on.
        retention: How long after ``occurred_at`` it lasts.
        roles: The roles that may retrieve items for this purpose.
        worm: Whether the stored object is locked (S3 Object Lock) while it lasts.
        review: Whether an item whose last purpose this is waits for a person's disposition
            review before it is destroyed (SPEC sections 4 and 5).
    """

    name: str
    basis: LawfulBasis
    retention: IsoDuration
    roles: frozenset[str]
    worm: bool = False
    review: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "basis", LawfulBasis(self.basis))
        object.__setattr__(self, "roles", frozenset(self.roles))

    def to_json(self) -> dict[str, object]:
        """The purpose as plain JSON values, in the policy file's shape."""
        body: dict[str, object] = {
            "basis": str(self.basis),
            "retention": str(self.retention),
            "roles": sorted(self.roles),
            "worm": self.worm,
        }
        # Only when set, so a policy without reviews keeps the version it had.
        if self.review:
            body["review"] = True
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One rule of the policy: which items it matches and the purposes they get.

    Attributes:
        match_type: The artefact type an item must have; ``None`` matches any type.
        match_attributes: Attributes the item must carry with exactly these values.
        purposes: Names of the purposes a matching item gets, in policy order.
    """

    match_type: ArtefactType | None = None
    match_attributes: Mapping[str, str] = field(default_factory=dict, hash=False)
    purposes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.match_type is not None:
            object.__setattr__(self, "match_type", ArtefactType(self.match_type))
        object.__setattr__(self, "match_attributes", _copied(self.match_attributes))
        object.__setattr__(self, "purposes", tuple(self.purposes))

    def matches(self, item_type: ArtefactType, attributes: Mapping[str, str]) -> bool:
        """Whether an item of this type with these attributes matches the rule.

        Args:
            item_type: The item's artefact type.
            attributes: The item's attributes.

        Returns:
            True when the type is equal (if the rule gives one) and every attribute the rule
            gives is present with the same value.
        """
        if self.match_type is not None and item_type != self.match_type:
            return False
        return all(attributes.get(key) == value for key, value in self.match_attributes.items())

    def to_json(self) -> dict[str, object]:
        """The rule as plain JSON values, in the policy file's shape."""
        match: dict[str, object] = {}
        if self.match_type is not None:
            match["type"] = str(self.match_type)
        if self.match_attributes:
            match["attributes"] = dict(sorted(self.match_attributes.items()))
        return {"match": match, "purposes": list(self.purposes)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A validated retention policy.

    Attributes:
        purposes: The declared purposes by name.
        rules: The rules, in order; the first that matches an item wins.
        source_text: The text the policy was parsed from ("" when built in code).
        reader_roles: Roles of this firm that the policy declares beside keepline's own API
            roles (SPEC section 4); they retrieve items by purpose, as ``qa`` does.
        version: A stable short hash of the normalised policy: comments, layout and key order
            of the source do not change it; any change of meaning does.
    """

    purposes: Mapping[str, Purpose] = field(hash=False)
    rules: tuple[Rule, ...]
    source_text: str = field(default="", compare=False)
    reader_roles: frozenset[str] = frozenset()
    version: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "purposes", _copied(self.purposes))
        object.__setattr__(self, "reader_roles", frozenset(self.reader_roles))
        for name, purpose in self.purposes.items():
            if purpose.name != name:
                raise PolicyValidationError(
                    source="<policy>",
                    line=0,
                    field=f"purposes.{name}",
                    message=f"is keyed {name!r} but named {purpose.name!r}",
                )
        for index, rule in enumerate(self.rules):
            for position, name in enumerate(rule.purposes):
                if name not in self.purposes:
                    raise PolicyValidationError(
                        source="<policy>",
                        line=0,
                        field=f"rules[{index}].purposes[{position}]",
                        message=f"{name!r} is not a purpose defined under purposes",
                    )
        canonical = json.dumps(
            self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        object.__setattr__(self, "version", digest[:_VERSION_HEX_CHARS])

    def purposes_for_role(self, role: str) -> frozenset[str]:
        """The names of the purposes whose roles include ``role``.

        Args:
            role: A role name, e.g. ``qa``.

        Returns:
            The purpose names; empty when the role retrieves nothing by purpose.
        """
        return frozenset(name for name, purpose in self.purposes.items() if role in purpose.roles)

    def to_json(self) -> dict[str, object]:
        """The normalised policy as plain JSON values; valid policy YAML when dumped."""
        body: dict[str, object] = {
            "purposes": {name: self.purposes[name].to_json() for name in sorted(self.purposes)},
            "rules": [rule.to_json() for rule in self.rules],
        }
        # Only when declared, so a policy without reader roles keeps the version it had.
        if self.reader_roles:
            body["reader_roles"] = sorted(self.reader_roles)
        return body


@dataclass(frozen=True, slots=True, kw_only=True)
class PurposeState:
    """A purpose as attached to one stored item.

    Attributes:
        name: The purpose's name.
        basis: Its lawful basis when it was attached.
        expires_at: When it expires (``occurred_at`` + retention).
        worm: Whether it locks the stored object until ``expires_at``.
    """

    name: str
    basis: LawfulBasis
    expires_at: datetime
    worm: bool = False

    def __post_init__(self) -> None:
        _require_aware(self.expires_at, "expires_at")
        # Catalog rows hand in plain strings; the enum makes comparisons exact.
        object.__setattr__(self, "basis", LawfulBasis(self.basis))

    def is_expired(self, now: datetime) -> bool:
        """Whether the purpose has expired at ``now`` (expiry is inclusive of its instant)."""
        return self.expires_at <= now


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemFacts:
    """What the policy engine needs to know about one stored item.

    Attributes:
        item_id: The item's id.
        type: Its artefact type.
        occurred_at: When the communication happened; retention runs from here.
        attributes: Its attributes (queue, desk, ...).
        subject_ids: Data-subject ids of its parties.
        addresses: Addresses of its parties.
        staff_ids: Staff ids of its parties.
        purposes: Its current purposes; a removed purpose is simply absent.
        removed_purposes: Names of purposes removed by a subject's withdrawal, objection or
            erasure. A policy change never attaches them again.
    """

    item_id: str
    type: ArtefactType
    occurred_at: datetime
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)
    subject_ids: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()
    staff_ids: frozenset[str] = frozenset()
    purposes: tuple[PurposeState, ...] = ()
    removed_purposes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        _require_aware(self.occurred_at, "occurred_at")
        object.__setattr__(self, "type", ArtefactType(self.type))
        object.__setattr__(self, "attributes", _copied(self.attributes))
        for name in ("subject_ids", "addresses", "staff_ids", "removed_purposes"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        object.__setattr__(self, "purposes", tuple(self.purposes))

    def unexpired_purposes(self, now: datetime) -> tuple[PurposeState, ...]:
        """The purposes that have not expired at ``now``, in stored order."""
        return tuple(state for state in self.purposes if not state.is_expired(now))


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldCriteria:
    """Which items a legal hold covers.

    Every criterion given must match; within one criterion any listed value matches. An
    empty set or mapping, or ``None``, means the criterion is not given. Criteria giving
    nothing are refused: a hold on everything is a mistake, not a legal instruction.

    Attributes:
        subject_ids: Any of these data subjects is a party.
        addresses: Any of these addresses is a party (compared case-insensitively).
        staff_ids: Any of these staff members is a party.
        types: The item is of one of these types.
        since: ``occurred_at`` is at or after this instant (inclusive).
        until: ``occurred_at`` is before this instant (exclusive), so consecutive windows
            ``[a, b)``, ``[b, c)`` never both cover one item.
        attributes: For each key, the item's attribute is one of the listed values.
    """

    subject_ids: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()
    staff_ids: frozenset[str] = frozenset()
    types: frozenset[ArtefactType] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    attributes: Mapping[str, frozenset[str]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise InvalidHoldCriteria(name, "must be a timestamp with a UTC offset")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InvalidHoldCriteria("until", "must be later than since")
        for name in ("subject_ids", "addresses", "staff_ids"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        object.__setattr__(self, "types", frozenset(ArtefactType(kind) for kind in self.types))
        attributes = {key: frozenset(values) for key, values in self.attributes.items()}
        for key, values in attributes.items():
            if not values:
                raise InvalidHoldCriteria(f"attributes.{key}", "must list at least one value")
        object.__setattr__(self, "attributes", _copied(attributes))
        given = (
            self.subject_ids,
            self.addresses,
            self.staff_ids,
            self.types,
            self.since,
            self.until,
            self.attributes,
        )
        if not any(criterion for criterion in given):
            raise InvalidHoldCriteria(
                "",
                "criteria must give at least one of subject_ids, addresses, staff_ids, "
                "types, since, until, attributes; a hold on everything is refused",
            )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HoldCriteria:
        """Build criteria from their JSON form, as posted to ``/v1/holds``.

        Args:
            data: ``{"subject_ids": [..], "addresses": [..], "staff_ids": [..],
                "types": [..], "since": "<RFC 3339>", "until": "<RFC 3339>",
                "attributes": {"key": "value" | ["value", ..]}}``, all optional but not all
                absent. ``null`` means absent; an explicitly empty list is refused, because
                it would silently widen the hold.

        Returns:
            The validated criteria.

        Raises:
            InvalidHoldCriteria: A field is malformed or nothing is given; names the field.
        """
        # Imported here: the JSON codec lives beside the matching logic, which needs this
        # module's types at import time.
        from policies.holds import criteria_from_json  # noqa: PLC0415

        return criteria_from_json(data)

    def to_json(self) -> dict[str, object]:
        """The criteria in their JSON form (only the given criteria), sorted for stability."""
        from policies.holds import criteria_to_json  # noqa: PLC0415 - see from_json

        return criteria_to_json(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    """A legal hold.

    Attributes:
        hold_id: The hold's id.
        matter: The legal matter it serves; erasure answers name it.
        criteria: Which items it covers.
        released_at: When it was released; ``None`` while active.
    """

    hold_id: str
    matter: str
    criteria: HoldCriteria
    released_at: datetime | None = None

    def __post_init__(self) -> None:
        _require_aware(self.released_at, "released_at")

    @property
    def active(self) -> bool:
        """Whether the hold is in force (not released)."""
        return self.released_at is None
