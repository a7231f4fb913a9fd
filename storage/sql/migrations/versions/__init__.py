"""The catalog schema revisions, oldest first (loaded by Alembic, not imported)."""
