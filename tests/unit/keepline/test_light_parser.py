"""Building `keepline`'s parser imports none of the drivers: commands import them to run."""

from __future__ import annotations

import json
import subprocess
import sys

#: What only a command that runs something locally needs (the stores, the broker, the API).
HEAVY = ("sqlalchemy", "alembic", "faust", "aiokafka", "minio", "fastapi", "cryptography")

_PROBE = """
import json, sys
from keepline.cli import build_parser
build_parser()
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _imported_after(code: str) -> set[str]:
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout))


def test_the_parser_and_the_http_commands_import_no_driver() -> None:
    imported = _imported_after(_PROBE)
    assert imported.isdisjoint(HEAVY), sorted(imported.intersection(HEAVY))
