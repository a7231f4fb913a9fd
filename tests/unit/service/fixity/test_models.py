"""The bucket verdict and the verdict of a pass."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.fixity.models import BucketVerdict, pass_ok
from storage.ports import BucketProtection, FixityPass

T0 = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("versioning", "lock", "required", "versioning_ok", "lock_ok"),
    [
        ("Enabled", True, True, True, True),
        ("Suspended", True, True, False, True),
        ("Off", False, False, False, True),
        ("Enabled", False, True, True, False),
        ("Enabled", False, False, True, True),
    ],
)
def test_the_bucket_must_keep_versions_and_lock_when_a_purpose_is_worm(
    versioning: str, lock: bool, required: bool, versioning_ok: bool, lock_ok: bool
) -> None:
    verdict = BucketVerdict(BucketProtection(versioning, lock), object_lock_required=required)
    assert (verdict.versioning_ok, verdict.object_lock_ok) == (versioning_ok, lock_ok)
    assert verdict.to_json()["versioning"] == versioning


def _done(**changes: object) -> FixityPass:
    bucket = {"versioning_ok": True, "object_lock_ok": True}
    values: dict[str, object] = {"bucket": bucket, "finished_at": T0, **changes}
    return FixityPass("p", T0, **values)  # type: ignore[arg-type]


def test_a_pass_is_ok_only_when_finished_with_nothing_wrong() -> None:
    assert pass_ok(_done())
    assert not pass_ok(_done(finished_at=None))
    assert not pass_ok(_done(missing=1))
    assert not pass_ok(_done(mismatched=1))
    assert not pass_ok(_done(orphaned=1))
    assert not pass_ok(_done(bucket={"versioning_ok": False, "object_lock_ok": True}))
