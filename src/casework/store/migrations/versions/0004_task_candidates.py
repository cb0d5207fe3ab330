"""task_candidates: the tasks offered to candidate users (flowable:candidateUsers), like the group queues

Until now candidate users were not read from models. tasks.candidate_users holds a task's users, comma-separated,
for display; the per-user query reads task_candidates: one row per open task and user. Tasks that were open before
this revision get their rows from `casework reproject`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 13:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_candidates",
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("user_name", "case_id", "item_id"),
        sqlite_with_rowid=False,
    )
    # A plain ADD / DROP COLUMN, not a batch operation: on SQLite that would copy the table and lose WITHOUT ROWID.
    op.add_column("tasks", sa.Column("candidate_users", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    op.drop_column("tasks", "candidate_users")
    op.drop_table("task_candidates")
