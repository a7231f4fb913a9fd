"""Alembic's environment for the catalog: migrations run on the connection they are given.

`storage.sql.migrations.upgrade` (start-up, `keepline db upgrade`) passes its connection in
`config.attributes["connection"]`; there is no alembic.ini and no URL here.
"""

from __future__ import annotations

from alembic import context

from storage.sql.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("run catalog migrations with `keepline db upgrade`")
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters tables by copying them; Alembic's batch mode does that.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
