"""The README's "Trying it", run as written against a real keepline, gives what it shows.

The first block's `export`s configure the service (`make run` itself is the fixture's job);
every later block runs in bash with the README's host and recordings directory replaced by
the test's, and its output must match the `# ` lines under the commands (`…`, `...` and
`<uuid>` stand for any text; a `#` line indented further continues the line above).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.integration.keepline_service import KeeplineService

README = Path(__file__).resolve().parents[2] / "README.md"
HOST = "http://127.0.0.1:8080"
RECORDINGS = "/tmp/recordings"  # noqa: S108 - the README's path, replaced by the test's
# A newline after each curl, so that outputs that end without one stay on their own line.
PRELUDE = 'set -eu\ncurl() { command curl "$@"; echo; }\n'


def _section() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Trying it", 1)[1].split("\n## ", 1)[0]


def _blocks(section: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)


def _exports(block: str) -> dict[str, str]:
    joined = block.replace("\\\n", "")
    found: dict[str, str] = {}
    for line in joined.splitlines():
        if line.startswith("export "):
            for assignment in shlex.split(line[len("export ") :]):
                name, _, value = assignment.partition("=")
                found[name] = value
    return found


def _expected(block: str) -> list[str]:
    lines: list[str] = []
    for line in block.splitlines():
        if line.startswith("#  ") and lines:
            lines[-1] += line[1:].strip()
        elif line.startswith("# "):
            lines.append(line[2:])
    return lines


def _pattern(expected: str, topics: dict[str, str]) -> re.Pattern[str]:
    for kind in ("calls", "emails", "chats"):
        expected = expected.replace(f'"comms.{kind}"', f'"{topics[kind]}"')
    escaped = re.escape(expected)
    for wildcard in ("…", "...", "<uuid>"):
        escaped = escaped.replace(re.escape(wildcard), ".*?")
    return re.compile(escaped)


def test_trying_it_gives_what_the_readme_shows(
    keepline_factory: Callable[..., KeeplineService], tmp_path: Path
) -> None:
    setup, *steps = _blocks(_section())
    recordings = tmp_path / "recordings"
    env = _exports(setup)
    assert set(env) == {
        "KEEPLINE_API_TOKENS",
        "KEEPLINE_ALLOW_FILE_URIS",
        "KEEPLINE_FILE_URI_ROOT",
    }
    env["KEEPLINE_FILE_URI_ROOT"] = str(recordings)
    service = keepline_factory(env=env)
    assert any("call_recording" in step for step in steps)
    for step in steps:
        script = step.replace(HOST, service.url).replace(RECORDINGS, str(recordings))
        done = subprocess.run(  # noqa: S603 - the README's own commands
            ["/bin/bash", "-c", PRELUDE + script],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
            check=False,
        )
        assert done.returncode == 0, (step, done.stdout, done.stderr, service.log_tail(30))
        shown = [line for line in done.stdout.splitlines() if line.strip()]
        expected = _expected(step)
        assert len(shown) == len(expected), f"{step}\nshown: {shown}"
        for line, want in zip(shown, expected, strict=True):
            assert _pattern(want, service.topics).fullmatch(line), f"\nwant: {want}\nline: {line}"
