from __future__ import annotations

import argparse
import io
import subprocess

import pytest

from keepline.cli import build_parser
from keepline.commands.completion import bash_script, command_tree
from keepline.commands.holds import criteria
from keepline.commands.remote import ByteProgress, print_table
from keepline.commands.subjects import subject_path

OPERATOR = {
    ("items",): {"list", "show", "download"},
    ("holds",): {"preview", "place", "list", "show", "release"},
    ("subjects",): {"export", "erase", "restrict", "object", "consent"},
    ("audit",): {"list", "verify"},
    ("policy",): {"show", "diff", "apply"},
}


def test_the_command_tree_has_every_operator_command_and_the_local_ones() -> None:
    tree = dict(command_tree(build_parser()))
    for path, actions in OPERATOR.items():
        assert actions <= set(tree[path])
    for local in ("serve", "sweep", "keys", "reconcile", "db", "dlq", "check", "verify"):
        assert local in tree[()]
    assert "--json" in tree[("holds", "list")]
    assert "--url" in tree[("items", "download")]


def test_policy_apply_stays_local_unless_the_api_is_asked_for() -> None:
    parser = build_parser()
    local = parser.parse_args(["policy", "apply", "p.yaml", "--dry-run"])
    remote = parser.parse_args(["policy", "apply", "p.yaml", "--url", "http://x"])
    assert not local.api
    assert local.url is None
    assert remote.url == "http://x"


def test_hold_criteria_options_become_the_apis_criteria() -> None:
    args = build_parser().parse_args(
        [
            "holds",
            "preview",
            "--subject",
            "s-1",
            "--subject",
            "s-2",
            "--type",
            "email",
            "--since",
            "2026-01-01T00:00:00Z",
            "--attr",
            "queue=sales",
            "--attr",
            "queue=support",
        ]
    )
    assert criteria(args) == {
        "subject_ids": ["s-1", "s-2"],
        "types": ["email"],
        "since": "2026-01-01T00:00:00Z",
        "attributes": {"queue": ["sales", "support"]},
    }


def test_times_without_an_offset_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["audit", "list", "--since", "2026-01-01T00:00:00"])
    assert caught.value.code == 2
    assert "with an offset" in capsys.readouterr().err


def test_subject_ids_are_percent_encoded_in_the_path() -> None:
    assert subject_path("a/b c", "erasure") == "/v1/subjects/a%2Fb%20c/erasure"


def test_tables_align_and_say_when_empty() -> None:
    out = io.StringIO()
    print_table(
        [("h-1", True, ["a", "b"]), ("h-22", None, [])], ("ID", "ON", "LIST"), out, empty=""
    )
    lines = out.getvalue().splitlines()
    assert lines == ["ID    ON   LIST", "h-1   yes  a,b", "h-22  -    -"]
    empty = io.StringIO()
    print_table([], ("ID",), empty, empty="no holds")
    assert empty.getvalue() == "no holds\n"


def test_the_byte_progress_bar_fills_up() -> None:
    stream = io.StringIO()
    bar = ByteProgress("item", stream, width=10)
    bar(0, 2048)
    bar(2048, 2048)
    bar.close()
    assert stream.getvalue().endswith("[##########] 2.0 KiB of 2.0 KiB\n")


def test_the_bash_completion_completes_commands_and_options() -> None:
    script = bash_script(build_parser())

    def complete(*words: str) -> set[str]:
        line = " ".join(["keepline", *words])
        program = (
            f"{script}\nCOMP_WORDS=(keepline {' '.join(words)}); "
            f"COMP_CWORD={len(words)}; COMP_LINE={line!r}; _keepline; "
            'printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(  # noqa: S603
            ["bash", "-c", program],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return set(done.stdout.split())

    assert complete("ho") == {"holds"}
    assert complete("holds", "re") == {"release"}
    assert {"--matter", "--subject"} <= complete("holds", "place", "--")
    assert complete("subjects", "consent", "s-1", "gr") == {"grant"}


def test_every_operator_command_documents_its_exit_codes_in_help() -> None:
    parser = build_parser()
    assert isinstance(parser, argparse.ArgumentParser)
    assert "exit codes" in (parser.epilog or "")
