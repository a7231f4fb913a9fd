"""The README's roles table is the role matrix the API enforces."""

from __future__ import annotations

import re
from pathlib import Path

from api.roles import ROUTE_ROLES

README = Path(__file__).resolve().parents[3] / "README.md"
ROLES = ("ingest", "qa", "legal", "privacy", "auditor", "admin")


def test_the_readme_roles_table_is_the_matrix() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Roles", 1)[1].split("\n## ", 1)[0]
    table: dict[tuple[str, str], frozenset[str]] = {}
    for row in re.findall(r"^\| `(\w+) (/[^`]+)` \|(.*)\|$", section, flags=re.MULTILINE):
        method, path, cells = row
        marks = [cell.strip() for cell in cells.split("|")]
        assert len(marks) == len(ROLES), row
        table[(method, path)] = frozenset(r for r, m in zip(ROLES, marks, strict=True) if m)
    assert table == {route: frozenset(roles) for route, roles in ROUTE_ROLES.items()}
