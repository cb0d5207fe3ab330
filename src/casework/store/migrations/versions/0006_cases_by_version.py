"""cases by definition version: ix_cases_definition_status (definition_key, status) becomes
ix_cases_definition_version_status (definition_key, definition_version, status)

`casework definitions` counts each version's open and closed cases in one pass over this index alone (the old one
lacked the version, so every case row, snapshot and all, was read), and `migrate --all-open --from N` and
`cases --definition K --version N` find a version's cases through it. Nothing else asked for (key, status).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 05:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_cases_definition_status", table_name="cases")
    op.create_index("ix_cases_definition_version_status", "cases",
                    ["definition_key", "definition_version", "status"])


def downgrade() -> None:
    op.drop_index("ix_cases_definition_version_status", table_name="cases")
    op.create_index("ix_cases_definition_status", "cases", ["definition_key", "status"])
