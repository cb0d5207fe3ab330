"""checkpoints by the last event they seal: ix_checkpoints_last_event (last_event_id, id)

Each checkpoint reads the newest one to begin from (`ORDER BY last_event_id DESC LIMIT ...`), and verify streams
them in (last_event_id, id) order. Without an index both read every checkpoint: `bench/checkpoint_history.py` with
100,000 earlier checkpoints took 200 ms per checkpoint on SQLite (holding the write lock) and 37 ms on PostgreSQL
(holding the events table against appends).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 07:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_checkpoints_last_event", "checkpoints", ["last_event_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_checkpoints_last_event", table_name="checkpoints")
