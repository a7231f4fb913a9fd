"""keepline policies: purposes, retention, legal holds and subject rights, as pure decisions.

Nothing here does I/O (apart from `load_policy` reading the file it is given) or reads the
clock: time comes in as an argument, so every decision can be tested with a table.
"""

from policies.access import visible_to
from policies.durations import IsoDuration, parse_duration
from policies.errors import (
    DurationOverflowError,
    InvalidDurationError,
    InvalidHoldCriteria,
    NaiveDatetimeError,
    PolicyError,
    PolicyFileUnreadableError,
    PolicyValidationError,
)
from policies.holds import (
    active_holds_covering,
    criteria_from_json,
    criteria_to_json,
    hold_covers,
)
from policies.models import (
    ArtefactType,
    Hold,
    HoldCriteria,
    ItemFacts,
    LawfulBasis,
    Policy,
    Purpose,
    PurposeState,
    Role,
    Rule,
)
from policies.outcomes import (
    Decision,
    DecisionReason,
    ErasureOutcome,
    ExpiryMove,
    PolicyChange,
    SweepAction,
)
from policies.policy_file import (
    default_policy_path,
    load_default_policy,
    load_policy,
    parse_policy,
)
from policies.retention import (
    Consents,
    Objections,
    decide,
    plan_policy_change,
    purposes_at_ingest,
    worm_retain_until,
)
from policies.subject_rights import (
    apply_consent_withdrawal,
    apply_objection,
    erasure_outcome,
    ignored_objections,
)

__all__ = [
    "ArtefactType",
    "Consents",
    "Decision",
    "DecisionReason",
    "DurationOverflowError",
    "ErasureOutcome",
    "ExpiryMove",
    "Hold",
    "HoldCriteria",
    "InvalidDurationError",
    "InvalidHoldCriteria",
    "IsoDuration",
    "ItemFacts",
    "LawfulBasis",
    "NaiveDatetimeError",
    "Objections",
    "Policy",
    "PolicyChange",
    "PolicyError",
    "PolicyFileUnreadableError",
    "PolicyValidationError",
    "Purpose",
    "PurposeState",
    "Role",
    "Rule",
    "SweepAction",
    "active_holds_covering",
    "apply_consent_withdrawal",
    "apply_objection",
    "criteria_from_json",
    "criteria_to_json",
    "decide",
    "default_policy_path",
    "erasure_outcome",
    "hold_covers",
    "ignored_objections",
    "load_default_policy",
    "load_policy",
    "parse_duration",
    "parse_policy",
    "plan_policy_change",
    "purposes_at_ingest",
    "visible_to",
    "worm_retain_until",
]
