"""Denied requests are audited as access.denied, coalesced so a flood cannot fill the trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.denials import OVERFLOW_ACTOR, Denial, DenialCoalescer
from tests.unit.api.conftest import Harness

T0 = datetime(2026, 11, 25, 12, 0, 5, tzinfo=UTC)


def _denial(actor: str = "qa-user", route: str = "/v1/holds", status: int = 403) -> Denial:
    return Denial(actor, "qa", "GET", route, status, "role_not_allowed")


def test_the_first_denial_of_a_minute_is_an_entry_and_repeats_are_counted() -> None:
    coalescer = DenialCoalescer()
    first = coalescer.admit(_denial(), T0)
    repeats = [coalescer.admit(_denial(), T0 + timedelta(seconds=s)) for s in range(1, 50)]
    other = coalescer.admit(_denial(route="/v1/audit"), T0)
    assert [e.details["route"] for e in first] == ["/v1/holds"]
    assert first[0].details["minute"] == "2026-11-25T12:00:00+00:00"
    assert all(r == [] for r in repeats)
    assert [e.details["route"] for e in other] == ["/v1/audit"]
    # The next minute: the 49 repeats of the last one come out, then the new denial.
    later = coalescer.admit(_denial(), T0 + timedelta(minutes=1))
    assert [(e.details["route"], e.details.get("repeats")) for e in later] == [
        ("/v1/holds", 49),
        ("/v1/holds", None),
    ]
    assert later[1].details["minute"] == "2026-11-25T12:01:00+00:00"


def test_distinct_keys_beyond_the_bound_are_counted_under_one_overflow_key() -> None:
    coalescer = DenialCoalescer(max_keys=3)
    written = [e for n in range(100) for e in coalescer.admit(_denial(f"user-{n}"), T0)]
    assert [e.actor for e in written] == ["user-0", "user-1", "user-2", OVERFLOW_ACTOR]
    summary = coalescer.flush(T0 + timedelta(minutes=1))
    assert [(e.actor, e.details["repeats"]) for e in summary] == [(OVERFLOW_ACTOR, 96)]


async def _denied(harness: Harness) -> list[dict[str, object]]:
    entries = await harness.storage.audit.query(action="access.denied", limit=1000)
    return [{"actor": e.actor, **e.details} for e in entries]


async def test_the_gate_audits_401_and_403_once_per_minute(harness: Harness) -> None:
    async with harness.client() as anonymous, harness.client("qa") as qa:
        for _ in range(30):
            assert (await anonymous.get("/v1/holds")).status_code == 401
            assert (await qa.get("/v1/holds")).status_code == 403
    denied = await _denied(harness)
    assert [(d["actor"], d["status"], d["reason"], d["route"]) for d in denied] == [
        ("(unauthenticated)", 401, "unauthenticated", "/v1/holds"),
        ("qa-user", 403, "role_not_allowed", "/v1/holds"),
    ]
    assert denied[1]["role"] == "qa"
    harness.clock.now += timedelta(minutes=1)
    async with harness.client("qa") as qa:
        assert (await qa.get("/v1/holds")).status_code == 403
    repeats = [(d["actor"], d.get("repeats")) for d in (await _denied(harness))[2:]]
    assert repeats == [("(unauthenticated)", 29), ("qa-user", 29), ("qa-user", None)]
    assert (await harness.storage.audit.verify()).ok


async def test_a_403_a_route_raises_is_audited_with_its_template(harness: Harness) -> None:
    await harness.add_item()
    async with harness.client("qa") as qa:
        not_own = await qa.get("/v1/items", params={"purpose": "legal"})
    assert not_own.status_code == 403
    denied = await _denied(harness)
    assert [(d["actor"], d["status"], d["reason"], d["route"]) for d in denied] == [
        ("qa-user", 403, "forbidden", "/v1/items"),
    ]


async def test_an_unknown_token_is_refused_and_audited_without_the_token(
    harness: Harness,
) -> None:
    async with harness.client(token="secret-looking-token") as unknown:
        assert (await unknown.get("/v1/audit")).status_code == 401
    denied = await _denied(harness)
    assert [d["actor"] for d in denied] == ["(unauthenticated)"]
    assert "secret-looking-token" not in str(denied)
