import base64
import hashlib
import itertools
import json
import random
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition

from bench.chaos import ChaosSettings, _parser, _summary
from bench.chaos_accounting import Expected, ItemRow, tally
from bench.chaos_cluster import CatalogKind
from bench.chaos_content import FileContent, ThrottledContentServer
from bench.chaos_faults import (
    Fault,
    FaultKind,
    FaultRecord,
    FaultShape,
    plan_faults,
    plan_span_s,
)
from bench.chaos_kafka import caught_up, dead_letter_keys
from bench.chaos_workload import ContentSinks, Mix, build_workload
from bench.content import PatternSource
from service.ingest.models import validate_artefact

AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)

# -- the fault plan ---------------------------------------------------------------------


def test_the_default_plan_has_four_kills_two_outages_and_one_broker_restart() -> None:
    faults = plan_faults(FaultShape())
    kinds = Counter(fault.kind for fault in faults)
    assert kinds == {
        FaultKind.KILL_WORKER: 2,
        FaultKind.KILL_ALL_WORKERS: 2,
        FaultKind.MINIO_OUTAGE: 2,
        FaultKind.KAFKA_RESTART: 1,
    }
    assert [f.at_s for f in faults] == sorted(f.at_s for f in faults)
    assert faults[0].at_s == FaultShape().first_at_s


def test_every_worker_is_killed_late_inside_each_minio_outage() -> None:
    faults = plan_faults(FaultShape())
    for outage in (f for f in faults if f.kind is FaultKind.MINIO_OUTAGE):
        inside = [f for f in faults if outage.at_s < f.at_s < outage.at_s + outage.down_s]
        assert [f.kind for f in inside] == [FaultKind.KILL_ALL_WORKERS]
        # Late: the workers have had a commit interval (faust: 2.8 s) to commit.
        assert inside[0].at_s - outage.at_s >= 3.0
        assert outage.down_s == FaultShape().outage_s


def test_single_kills_take_turns_on_the_workers() -> None:
    faults = plan_faults(FaultShape(kills=7, workers=2))
    targets = [f.target for f in faults if f.kind is FaultKind.KILL_WORKER]
    assert targets == [0, 1, 0, 1, 0]
    assert all(f.target is None for f in faults if f.kind is not FaultKind.KILL_WORKER)


def test_only_an_outage_and_its_inner_kill_overlap() -> None:
    faults = plan_faults(FaultShape())
    shape = FaultShape()
    outer = [f for f in faults if not _inside_an_outage(f, faults)]
    for before, after in itertools.pairwise(outer):
        assert after.at_s - (before.at_s + before.down_s) >= shape.gap_s


def _inside_an_outage(fault: Fault, faults: tuple[Fault, ...]) -> bool:
    return any(
        o.kind is FaultKind.MINIO_OUTAGE and o.at_s < fault.at_s < o.at_s + o.down_s for o in faults
    )


def test_the_workload_outlasts_the_last_fault() -> None:
    shape = FaultShape()
    faults = plan_faults(shape)
    span = plan_span_s(faults, shape)
    assert span >= max(f.at_s + f.down_s for f in faults) + shape.gap_s
    assert span < 120  # compressed: a few seconds apart


def test_a_plan_without_faults_still_publishes_for_a_while() -> None:
    shape = FaultShape(kills=0, minio_outages=0, kafka_restarts=0)
    assert plan_faults(shape) == ()
    assert plan_span_s((), shape) > 0


def test_more_outages_than_kills_leave_the_later_outages_without_a_kill() -> None:
    faults = plan_faults(FaultShape(kills=1, minio_outages=3, kafka_restarts=0))
    kills = [f for f in faults if f.kind in {FaultKind.KILL_WORKER, FaultKind.KILL_ALL_WORKERS}]
    assert len(kills) == 1
    first_outage = next(f for f in faults if f.kind is FaultKind.MINIO_OUTAGE)
    assert first_outage.at_s < kills[0].at_s < first_outage.at_s + first_outage.down_s


@pytest.mark.parametrize(
    "shape",
    [
        {"kills": -1},
        {"minio_outages": -1},
        {"gap_s": -1.0},
        {"kills": 1, "workers": 0},
    ],
)
def test_an_impossible_shape_is_refused(shape: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        FaultShape(**shape)  # type: ignore[arg-type]  # the table mixes ints and floats


def test_a_fault_record_shows_only_what_it_has() -> None:
    kill = FaultRecord(FaultKind.KILL_WORKER, 4.04, target="worker-0", recovered_after_s=7.26)
    assert kill.to_json() == {
        "fault": "kill_worker",
        "at_s": 4.0,
        "target": "worker-0",
        "recovered_after_s": 7.3,
    }
    failed = FaultRecord(FaultKind.KAFKA_RESTART, 24.0, error="did not start")
    assert failed.to_json() == {"fault": "kafka_restart", "at_s": 24.0, "error": "did not start"}


# -- accounting -------------------------------------------------------------------------


def _expected(n: int, *, content: bool = True) -> Expected:
    key = ("src", f"e{n}")
    return Expected(key, "chat", 10 + n if content else None, f"{n:064x}" if content else None)


def _row(
    n: int, *, item: str | None = None, status: str = "stored", version: str = "v1"
) -> ItemRow:
    want = _expected(n)
    return ItemRow(
        item_id=item or f"item-{n}",
        source=want.key[0],
        event_id=want.key[1],
        status=status,
        object_key=f"items/{n}",
        version_id=version,
        size_bytes=want.size_bytes,
        sha256=want.sha256,
    )


def _expect(*events: Expected) -> dict[tuple[str, str], Expected]:
    return {event.key: event for event in events}


def test_everything_stored_once_with_its_object_is_clean() -> None:
    expected = _expect(_expected(1), _expected(2))
    rows = [_row(1), _row(2)]
    result = tally(expected, rows, [], [("items/1", "v1"), ("items/2", "v1")])
    assert result.ok
    assert (result.events, result.stored) == (2, 2)
    assert result.lost == result.duplicated == result.orphans == ()


def test_an_event_neither_stored_nor_dead_lettered_is_lost() -> None:
    expected = _expect(_expected(1), _expected(2), _expected(3))
    result = tally(expected, [_row(1)], [("src", "e3")], [("items/1", "v1")])
    assert result.lost == (("src", "e2"),)
    assert result.dead_lettered == (("src", "e3"),)
    assert not result.ok


def test_an_event_still_pending_is_lost_and_its_uploaded_version_an_orphan() -> None:
    expected = _expect(_expected(1))
    result = tally(expected, [_row(1, status="pending")], [], [("items/1", "v1")])
    assert result.lost == (("src", "e1"),)
    assert result.pending == ("item-1",)
    assert result.orphans == (("items/1", "v1"),)


def test_two_items_of_one_event_are_a_duplicate_and_both_count_as_stored() -> None:
    expected = _expect(_expected(1))
    rows = [_row(1), _row(1, item="item-1b")]
    versions = [("items/1", "v1")]
    result = tally(expected, rows, [], versions)
    assert result.duplicated == (("src", "e1"),)
    assert result.stored == 2
    assert result.lost == ()


def test_versions_no_stored_item_references_are_orphans() -> None:
    expected = _expect(_expected(1))
    versions = [("items/1", "v1"), ("items/1", "v0"), ("items/9", None)]
    result = tally(expected, [_row(1)], [], versions)
    assert result.orphans == (("items/1", "v0"), ("items/9", None))
    assert not result.ok


def test_a_stored_item_whose_version_is_gone_is_missing() -> None:
    result = tally(_expect(_expected(1)), [_row(1, version="v2")], [], [("items/1", "v1")])
    assert result.missing_objects == ("item-1",)
    assert result.orphans == (("items/1", "v1"),)


def test_content_of_another_size_or_digest_is_a_mismatch() -> None:
    expected = _expect(_expected(1), _expected(2))
    wrong_size = ItemRow("item-1", "src", "e1", "stored", "items/1", "v1", 999, _expected(1).sha256)
    wrong_sha = ItemRow("item-2", "src", "e2", "stored", "items/2", "v1", 12, "0" * 64)
    versions = [("items/1", "v1"), ("items/2", "v1")]
    result = tally(expected, [wrong_size, wrong_sha], [], versions)
    assert result.mismatched == ("item-1", "item-2")


def test_a_metadata_only_event_must_be_stored_without_content() -> None:
    plain = _expected(1, content=False)
    good = ItemRow("item-1", "src", "e1", "stored", None, None, None, None)
    assert tally(_expect(plain), [good], [], []).ok
    bad = ItemRow("item-1", "src", "e1", "stored", "items/1", "v1", 3, "ab" * 32)
    assert tally(_expect(plain), [bad], [], [("items/1", "v1")]).mismatched == ("item-1",)


def test_items_of_events_never_published_are_unexpected() -> None:
    stray = ItemRow("item-x", "other", "e1", "stored", None, None, None, None)
    result = tally({}, [stray], [], [])
    assert result.unexpected == ("item-x",)
    assert not result.ok


def test_the_same_event_id_from_two_sources_is_two_events() -> None:
    a = Expected(("pbx-1", "e"), "chat", None, None)
    b = Expected(("pbx-2", "e"), "chat", None, None)
    rows = [ItemRow("i1", "pbx-1", "e", "stored", None, None, None, None)]
    assert tally(_expect(a, b), rows, [], []).lost == (("pbx-2", "e"),)


# -- Kafka helpers ----------------------------------------------------------------------


def test_the_group_is_caught_up_only_when_every_partition_is_committed_to_its_end() -> None:
    tp = TopicPartition
    assert caught_up({tp("t", 0): (5, 5), tp("t", 1): (None, 0)})
    assert not caught_up({tp("t", 0): (4, 5)})
    assert not caught_up({tp("t", 0): (None, 5)})
    assert not caught_up({})


def test_dead_letters_name_the_event_of_their_original_message() -> None:
    original = json.dumps({"source": "pbx", "event_id": "e1", "type": "chat"}).encode()
    letter = json.dumps({"reason": "x", "value_b64": base64.b64encode(original).decode()})
    garbage = json.dumps({"reason": "invalid_json", "value_b64": base64.b64encode(b"{").decode()})
    assert dead_letter_keys([letter.encode(), garbage.encode(), b"not json"]) == [
        ("pbx", "e1"),
        None,
        None,
    ]


# -- the workload -----------------------------------------------------------------------


def _sinks() -> ContentSinks:
    return ContentSinks(
        http=lambda source: f"http://127.0.0.1:1/{source.seed}.bin",
        file=lambda source: f"file:///srv/chaos/{source.seed}.eml",
    )


def test_the_workload_mixes_every_kind_and_every_event_is_valid() -> None:
    workload = build_workload(
        run_id="r1", events=200, occurred_at=AT, sinks=_sinks(), rng=random.Random(1)
    )
    assert len(workload.expected) == 200
    firsts = [copy for copy in workload.copies if not copy.republished]
    assert len(firsts) == 200
    kinds: Counter[str] = Counter()
    for copy in firsts:
        event = validate_artefact(json.loads(copy.message.value))
        want = workload.expected[copy.key]
        assert (event.source, event.event_id) == copy.key
        if event.content is not None:
            kinds[f"{event.type}:{event.content.uri.split(':')[0]}"] += 1
            assert (event.content.size_bytes, event.content.sha256) == (
                want.size_bytes,
                want.sha256,
            )
        elif event.content_inline is not None:
            kinds[f"{event.type}:inline"] += 1
            assert want.size_bytes is not None
        else:
            kinds[f"{event.type}:none"] += 1
            assert want.size_bytes is None
    assert set(kinds) == {
        "call_recording:http",
        "email:http",
        "email:file",
        "email:none",
        "chat:inline",
        "chat:none",
    }


def test_inline_chat_text_is_what_the_expectation_hashes() -> None:
    workload = build_workload(
        run_id="r1", events=40, occurred_at=AT, sinks=_sinks(), rng=random.Random(2)
    )
    for copy in workload.copies:
        event = json.loads(copy.message.value)
        if "content_inline" in event:
            text = base64.b64decode(event["content_inline"]["data_b64"])
            want = workload.expected[copy.key]
            assert (len(text), hashlib.sha256(text).hexdigest()) == (want.size_bytes, want.sha256)


def test_republished_copies_come_after_their_first_and_half_go_to_another_partition() -> None:
    workload = build_workload(
        run_id="r1", events=300, occurred_at=AT, sinks=_sinks(), rng=random.Random(3)
    )
    again = [copy for copy in workload.copies if copy.republished]
    assert len(again) == round(300 * Mix().duplicates)
    assert len({copy.key for copy in again}) == len(again)
    assert abs(sum(copy.other_partition for copy in again) - len(again) / 2) <= 1
    first_at: dict[tuple[str, str], int] = {}
    for position, copy in enumerate(workload.copies):
        if copy.republished:
            assert copy.key in first_at
            assert position > first_at[copy.key]
            original = workload.copies[first_at[copy.key]]
            assert copy.message == original.message
        else:
            first_at[copy.key] = position


def test_the_same_seed_gives_the_same_workload() -> None:
    def build() -> list[bytes]:
        workload = build_workload(
            run_id="r", events=50, occurred_at=AT, sinks=_sinks(), rng=random.Random(9)
        )
        return [copy.message.value for copy in workload.copies]

    assert build() == build()


# -- content ----------------------------------------------------------------------------


def test_the_throttled_server_streams_the_whole_source() -> None:
    source = PatternSource(seed=11, size_bytes=40_000, chunk_bytes=16 * 1024)
    with ThrottledContentServer(chunk_delay_s=0.001) as server:
        url = server.add(source)
        assert url.startswith(server.origin + "/")
        response = httpx.get(url, timeout=30)
        missing = httpx.get(f"{server.origin}/nothing.bin", timeout=30)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == source.sha256
    assert missing.status_code == 404


def test_file_content_is_written_under_its_root(tmp_path: Path) -> None:
    source = PatternSource(seed=12, size_bytes=5000)
    files = FileContent(tmp_path / "files")
    uri = files.add(source)
    path = Path(uri.removeprefix("file://"))
    assert path.parent == (tmp_path / "files").resolve()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == source.sha256


# -- the summary ------------------------------------------------------------------------


def test_the_summary_adds_up_the_runs_and_counts_the_failed_ones() -> None:
    lines: list[dict[str, Any]] = [
        {"chaos": "m", "events": 10, "stored": 10, "lost": 0, "faults": [{}, {}], "catalog": "x"},
        {"chaos": "m", "events": 10, "stored": 8, "lost": 2, "faults": [{}], "catalog": "x"},
        {"chaos": "m", "error": "Kafka did not start", "catalog": "x"},
    ]
    summary = _summary(lines, clean=1, elapsed_s=12.34)
    assert summary["runs"] == 3
    assert summary["failed"] == 2
    assert (summary["events"], summary["stored"], summary["lost"]) == (20, 18, 2)
    assert summary["faults"] == 3
    assert summary["duration_s"] == 12.3


# -- settings ---------------------------------------------------------------------------


def test_the_catalog_is_postgresql_unless_the_environment_says_sqlite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KEEPLINE_BENCH_CATALOG", raising=False)
    assert _parser(ChaosSettings()).parse_args([]).catalog is CatalogKind.POSTGRESQL
    monkeypatch.setenv("KEEPLINE_BENCH_CATALOG", "sqlite")
    assert _parser(ChaosSettings()).parse_args([]).catalog is CatalogKind.SQLITE
    flags = ["--catalog", "postgresql", "--runs", "3", "--events", "50"]
    args = _parser(ChaosSettings()).parse_args(flags)
    assert (args.catalog, args.runs, args.events) == (CatalogKind.POSTGRESQL, 3, 50)
