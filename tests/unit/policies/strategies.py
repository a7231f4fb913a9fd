"""Hypothesis strategies for the policy engine's values.

Small pools of ids, addresses and attribute values make holds and items overlap often, so
properties about coverage are exercised on covered and uncovered items alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from policies import (
    ArtefactType,
    Hold,
    HoldCriteria,
    IsoDuration,
    ItemFacts,
    LawfulBasis,
    Policy,
    Purpose,
    PurposeState,
    Rule,
)

PURPOSE_NAMES = ("quality", "training", "legal", "marketing", "fraud", "billing")
SUBJECTS = ("s1", "s2", "s3", "s4")
ADDRESSES = ("+442071234567", "Alice@Example.com", "alice@example.com", "bob@example.org")
STAFF = ("e1", "e2", "e3")
ATTRIBUTES = {"queue": ("sales", "support"), "desk": ("fx", "rates")}
ROLES = ("qa", "legal", "privacy", "marketing", "auditor")
API_ROLES = frozenset({"ingest", "qa", "legal", "privacy", "auditor", "admin"})

ZONES = (UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)))

aware_datetimes = st.datetimes(
    # Hypothesis takes naive bounds and attaches the drawn zone.
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from(ZONES),
)

durations = st.builds(
    IsoDuration,
    years=st.integers(0, 30),
    months=st.integers(0, 30),
    weeks=st.integers(0, 10),
    days=st.integers(0, 400),
    hours=st.integers(0, 48),
    minutes=st.integers(0, 120),
    seconds=st.decimals(
        min_value=0, max_value=100_000, places=3, allow_nan=False, allow_infinity=False
    ),
)

positive_durations = durations.filter(lambda duration: not duration.is_zero)


def _subsets(pool: tuple[str, ...]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(pool), max_size=len(pool))


purpose_states = st.builds(
    PurposeState,
    name=st.sampled_from(PURPOSE_NAMES),
    basis=st.sampled_from(LawfulBasis),
    expires_at=aware_datetimes,
    worm=st.booleans(),
)


@st.composite
def item_attributes(draw: st.DrawFn) -> dict[str, str]:
    """Attributes drawn from the shared pool, some keys left out."""
    keys = draw(st.lists(st.sampled_from(sorted(ATTRIBUTES)), unique=True))
    return {key: draw(st.sampled_from(ATTRIBUTES[key])) for key in keys}


items = st.builds(
    ItemFacts,
    item_id=st.uuids().map(str),
    type=st.sampled_from(ArtefactType),
    occurred_at=aware_datetimes,
    attributes=item_attributes(),
    subject_ids=_subsets(SUBJECTS),
    addresses=_subsets(ADDRESSES),
    staff_ids=_subsets(STAFF),
    purposes=st.lists(purpose_states, unique_by=lambda state: state.name, max_size=5).map(tuple),
)


@st.composite
def hold_criteria(draw: st.DrawFn) -> HoldCriteria:
    """Criteria giving at least one criterion, as the model requires."""
    since = draw(st.none() | aware_datetimes)
    until = draw(st.none() | aware_datetimes)
    if since is not None and until is not None and until <= since:
        since, until = until - timedelta(days=1), since + timedelta(days=1)
    keys = draw(st.lists(st.sampled_from(sorted(ATTRIBUTES)), unique=True))
    attributes = {
        key: draw(st.frozensets(st.sampled_from(ATTRIBUTES[key]), min_size=1)) for key in keys
    }
    types = draw(st.frozensets(st.sampled_from(ArtefactType)))
    subject_ids = draw(_subsets(SUBJECTS))
    addresses = draw(_subsets(ADDRESSES))
    staff_ids = draw(_subsets(STAFF))
    if not (since or until or attributes or types or subject_ids or addresses or staff_ids):
        types = frozenset({draw(st.sampled_from(ArtefactType))})
    return HoldCriteria(
        subject_ids=subject_ids,
        addresses=addresses,
        staff_ids=staff_ids,
        types=types,
        since=since,
        until=until,
        attributes=attributes,
    )


holds = st.builds(
    Hold,
    hold_id=st.sampled_from(("h1", "h2", "h3", "h4", "h5")),
    matter=st.sampled_from(("Acme v Widget", "FCA inquiry", "internal review")),
    criteria=hold_criteria(),
    released_at=st.none() | aware_datetimes,
)

hold_lists = st.lists(holds, max_size=4)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """A valid policy over the shared purpose names."""
    names = draw(st.lists(st.sampled_from(PURPOSE_NAMES), min_size=1, unique=True))
    purposes = {
        name: Purpose(
            name=name,
            basis=draw(st.sampled_from(LawfulBasis)),
            retention=draw(positive_durations),
            roles=draw(st.frozensets(st.sampled_from(ROLES), min_size=1)),
            worm=draw(st.booleans()),
        )
        for name in names
    }
    rules = draw(
        st.lists(
            st.builds(
                Rule,
                match_type=st.none() | st.sampled_from(ArtefactType),
                match_attributes=item_attributes(),
                purposes=st.lists(st.sampled_from(names), min_size=1, unique=True).map(tuple),
            ),
            min_size=1,
            max_size=4,
        )
    )
    used: frozenset[str] = frozenset().union(*(p.roles for p in purposes.values()))
    return Policy(purposes=purposes, rules=tuple(rules), reader_roles=used - API_ROLES)


consent_grants = st.dictionaries(
    st.sampled_from(SUBJECTS), st.frozensets(st.sampled_from(PURPOSE_NAMES))
)


@st.composite
def held_items(draw: st.DrawFn) -> tuple[ItemFacts, Hold]:
    """An item with an active hold built from its own facts, so it surely covers it."""
    facts = draw(items)
    options: list[HoldCriteria] = [
        HoldCriteria(types=frozenset({facts.type})),
        HoldCriteria(since=facts.occurred_at),
        HoldCriteria(until=facts.occurred_at + timedelta(microseconds=1)),
    ]
    if facts.subject_ids:
        options.append(HoldCriteria(subject_ids=frozenset({min(facts.subject_ids)})))
    if facts.addresses:
        options.append(HoldCriteria(addresses=frozenset({max(facts.addresses).upper()})))
    if facts.staff_ids:
        options.append(HoldCriteria(staff_ids=facts.staff_ids))
    if facts.attributes:
        key = min(facts.attributes)
        options.append(HoldCriteria(attributes={key: frozenset({facts.attributes[key]})}))
    criteria = draw(st.sampled_from(options))
    return facts, Hold(hold_id="h0", matter="covering", criteria=criteria)
