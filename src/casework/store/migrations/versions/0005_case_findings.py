"""case_findings: decision support's flags and suggestions on each open case, kept current as cases change

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_findings",
        sa.Column("case_id", sa.String(length=64), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("finding_id", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("case_version", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("case_type", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("case_id", "finding_id"),
    )
    op.create_index("ix_case_findings_severity", "case_findings", ["severity", "raised_at"])


def downgrade() -> None:
    op.drop_index("ix_case_findings_severity", table_name="case_findings")
    op.drop_table("case_findings")
