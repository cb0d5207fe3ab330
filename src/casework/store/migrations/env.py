"""Alembic environment: casework runs migrations itself on open, on a connection it hands over."""

from __future__ import annotations

from alembic import context

from casework.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` on the command line gets here
    raise RuntimeError("casework migrations run through casework.store.migrate.upgrade(engine)")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
