"""Catalogs already at the newest schema revision, for tests that only need a fresh one.

Migrating an empty catalog runs every revision, a few tenths of a second each time; a test
that needs a fresh, current catalog gets a copy of one migrated once per process instead.
The migrations themselves are still run from empty, and from the previous revision with data
in it, by `tests/catalog_contract/migrations.py` on both dialects.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from sqlalchemy import create_engine

from storage.sql.migrations import upgrade

_lock = threading.Lock()
_template: Path | None = None


def _sqlite_template() -> Path:
    global _template  # noqa: PLW0603 - one template per process, made on first use
    with _lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="keepline-catalog-template-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            path = folder / "catalog.db"
            engine = create_engine(f"sqlite:///{path}")
            try:
                with engine.connect() as conn:
                    upgrade(conn)
            finally:
                engine.dispose()
            _template = path
        return _template


def migrated_sqlite(path: Path) -> str:
    """Return the async URL of the catalog at ``path``, first putting a fresh one there at the
    newest revision if there is none yet (a catalog already there is reopened, never replaced).
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_sqlite_template(), path)
    return f"sqlite+aiosqlite:///{path}"
