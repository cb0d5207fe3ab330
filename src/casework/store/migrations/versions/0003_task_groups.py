"""task_groups: the candidate-group queues (a task may be offered to several groups)

tasks.candidate_group held one group and was never filled from the model; it becomes tasks.candidate_groups (the
groups, comma-separated, for display), and the queue query reads task_groups: one row per open task and group.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TERMINAL = "('completed', 'terminated')"


def upgrade() -> None:
    op.create_table(
        "task_groups",
        sa.Column("group_name", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("group_name", "case_id", "item_id"),
        sqlite_with_rowid=False,
    )
    op.drop_index("ix_tasks_group_state", table_name="tasks")
    _rename_groups_column("candidate_group", "candidate_groups", 1000)
    op.execute(
        "INSERT INTO task_groups (group_name, case_id, item_id) SELECT candidate_groups, case_id, item_id "
        f"FROM tasks WHERE candidate_groups IS NOT NULL AND state NOT IN {_TERMINAL}"
    )


def downgrade() -> None:
    # One group per task fits the old column: a task offered to several keeps the first (shortened before the
    # column narrows, which PostgreSQL checks).
    first = (
        "substr(candidate_groups, 1, instr(candidate_groups, ',') - 1)"
        if op.get_bind().dialect.name == "sqlite"
        else "split_part(candidate_groups, ',', 1)"
    )
    op.execute(f"UPDATE tasks SET candidate_groups = {first} WHERE candidate_groups LIKE '%,%'")
    _rename_groups_column("candidate_groups", "candidate_group", 200)
    op.create_index(
        "ix_tasks_group_state", "tasks", ["candidate_group", "state"], unique=False,
        sqlite_where=sa.text("candidate_group IS NOT NULL"), postgresql_where=sa.text("candidate_group IS NOT NULL"),
    )
    op.drop_table("task_groups")


def _rename_groups_column(old: str, new: str, length: int) -> None:
    # Not a batch operation: on SQLite that would copy the table and lose WITHOUT ROWID. SQLite ignores VARCHAR
    # lengths, so a rename is all it needs.
    op.execute(f"ALTER TABLE tasks RENAME COLUMN {old} TO {new}")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("tasks", new, type_=sa.String(length=length), existing_nullable=True)
