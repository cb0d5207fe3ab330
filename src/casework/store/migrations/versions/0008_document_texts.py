"""document_texts, document_text_pages: documents' text extracted once, by the SHA-256 of their bytes

`casework suggest similar` read the documents of every closed case it compared on every query (20 s at most, past
which documents counted by their kind alone), and `suggest intake` read a case's documents again each time. The
text is now extracted when a document is attached (or on first need, or by `casework suggest index-documents`) and
stored here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_texts",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("extractor", sa.Integer(), nullable=False),
        sa.Column("read_as", sa.String(length=8), nullable=False),
        sa.Column("form", sa.String(length=8), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("unread_pages", sa.Integer(), nullable=False),
        sa.Column("unread_reason", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "extractor", "read_as"),
    )
    op.create_table(
        "document_text_pages",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("extractor", sa.Integer(), nullable=False),
        sa.Column("read_as", sa.String(length=8), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", "extractor", "read_as", "page"),
        sa.ForeignKeyConstraint(["sha256", "extractor", "read_as"],
                                ["document_texts.sha256", "document_texts.extractor", "document_texts.read_as"],
                                name="fk_document_text_pages_text"),
    )


def downgrade() -> None:
    op.drop_table("document_text_pages")
    op.drop_table("document_texts")
