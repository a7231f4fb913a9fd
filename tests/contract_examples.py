"""The contract's example events, from the copy of the SPEC kept in this repository.

`docs/SPEC.md` says "Examples: `contract/examples/`", a path relative to itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[1] / "docs" / "SPEC.md"
EXAMPLES = SPEC.parent / "contract" / "examples"


def example_names() -> list[str]:
    """The names of every example event, sorted (the file names without `.json`)."""
    return sorted(path.stem for path in EXAMPLES.glob("*.json"))


def example(name: str) -> dict[str, Any]:
    """A contract example event, as a fresh dict the caller may change."""
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return data
