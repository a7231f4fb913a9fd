import itertools

import pytest

from bench.context import RAW_PREFIX, object_versions, wait_until
from bench.errors import WaitTimeoutError


def test_wait_until_returns_the_first_truthy_result() -> None:
    answers = iter([None, False, None, {"items": 3}])
    assert wait_until(lambda: next(answers), timeout_s=5, what="x", interval_s=0) == {"items": 3}


def test_wait_until_gives_up_naming_what_it_waited_for() -> None:
    calls = itertools.count()
    with pytest.raises(WaitTimeoutError, match="the items to be destroyed") as caught:
        wait_until(
            lambda: next(calls) and None,
            timeout_s=0.05,
            what="the items to be destroyed",
            interval_s=0.01,
        )
    assert caught.value.timeout_s == 0.05
    assert next(calls) >= 2  # polled more than once before giving up


class _Listed:
    def __init__(self, name: str, version: str, size: int, *, marker: bool = False) -> None:
        self.object_name, self.version_id, self.size = name, version, size
        self.is_delete_marker = marker


class _Bucket:
    def __init__(self, objects: list[_Listed]) -> None:
        self.objects = objects
        self.prefixes: list[str] = []

    def list_objects(self, bucket: str, **options: object) -> list[_Listed]:
        prefix = str(options["prefix"])
        self.prefixes.append(prefix)
        return [o for o in self.objects if o.object_name.startswith(prefix)]


def _bucket() -> _Bucket:
    return _Bucket(
        [
            _Listed("items/a", "v1", 10),
            _Listed("items/b", "v2", 0, marker=True),
            _Listed("raw/000000", "v3", 4096),
            _Listed("keepline-catalog", "v4", 5),
        ]
    )


def test_object_versions_lists_items_objects_without_delete_markers() -> None:
    s3 = _bucket()
    assert object_versions(s3, "b") == [("items/a", "v1", 10)]  # type: ignore[arg-type]
    assert s3.prefixes == ["items/"]


def test_the_raw_sides_objects_are_listed_under_their_own_prefix() -> None:
    s3 = _bucket()
    assert object_versions(s3, "b", RAW_PREFIX) == [("raw/000000", "v3", 4096)]  # type: ignore[arg-type]
