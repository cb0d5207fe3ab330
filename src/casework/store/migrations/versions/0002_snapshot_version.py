"""cases.snapshot_version: the snapshot is no longer rewritten on every command

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("snapshot_version", sa.Integer(), server_default="0", nullable=False))
    # Until now every command rewrote the snapshot: existing snapshots are at the case's version.
    op.execute("UPDATE cases SET snapshot_version = version")


def downgrade() -> None:
    # Before this revision a case's snapshot had to be at its version; bringing a stale one up to date needs the
    # engine, which a migration must not import. Refuse rather than leave cases that would load wrong.
    stale = op.get_bind().execute(sa.text("SELECT count(*) FROM cases WHERE snapshot_version <> version")).scalar()
    if stale:
        raise RuntimeError(
            f"cannot downgrade below revision 0002: {stale} cases have a snapshot older than their last event"
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("snapshot_version")
