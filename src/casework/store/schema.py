"""The tables, as SQLAlchemy Core metadata; migrations create them and queries use them."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits for a global event sequence.
BigId = BigInteger().with_variant(Integer(), "sqlite")

definitions = Table(
    "definitions",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name", String(500), nullable=True),
    Column("xml", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("deployed_at", DateTime(timezone=True), nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("definition_key", String(200), nullable=False),
    Column("definition_version", Integer, nullable=False),
    Column("business_key", String(300), nullable=True, unique=True),
    Column("status", String(20), nullable=False),
    # Number of events in the case's chain; the optimistic-lock token (UPDATE ... WHERE version = expected).
    Column("version", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    # "engine" cases replay through the engine; "import" cases hold history loaded from a log.
    Column("source", String(20), nullable=False, server_default="engine"),
    Column("snapshot", Text, nullable=False),
    # The version `snapshot` is at: a command rewrites the snapshot only every few events (and when the case closes or
    # migrates), so a cold read applies the events after it. Writing the whole state on every command cost more than
    # everything else a command writes.
    Column("snapshot_version", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Not on updated_at: that would move an index entry on every command (an extra page in every commit).
    Index("ix_cases_status_created", "status", "created_at"),
    # A definition version's cases, and the open/closed count of every version read from the index alone.
    Index("ix_cases_definition_version_status", "definition_key", "definition_version", "status"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    # Kept as the exact ISO string the engine produced: it is hashed, so it must round-trip byte for byte.
    Column("at", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=True),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("item_id", String(200), primary_key=True),
    Column("def_id", String(200), nullable=True),
    Column("name", String(500), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("state", String(20), nullable=False),
    Column("owner", String(200), nullable=True),
    Column("candidate_groups", String(1000), nullable=True),  # comma-separated, for display; see task_groups
    Column("candidate_users", String(1000), nullable=True),  # comma-separated, for display; see task_candidates
    Column("due_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Partial indexes: rows without an owner, group or due date (most plan items) cost no index writes.
    Index("ix_tasks_owner_state", "owner", "state", sqlite_where=text("owner IS NOT NULL"),
          postgresql_where=text("owner IS NOT NULL")),
    Index("ix_tasks_due_state", "due_at", "state", sqlite_where=text("due_at IS NOT NULL"),
          postgresql_where=text("due_at IS NOT NULL")),
    # Clustered on (case_id, item_id) on SQLite: one B-tree to update instead of a table plus its key index.
    sqlite_with_rowid=False,
)


def _offers(name: str, who: str) -> Table:
    """Tasks offered to someone: one row per open task and group (or user), deleted when the task ends, so that a
    group's queue is read from its own rows however many tasks the group has had (and a task offered to two groups
    is in both). Keyed by who first: that is how the inbox asks."""
    return Table(
        name,
        metadata,
        Column(who, String(200), primary_key=True),
        Column("case_id", String(64), primary_key=True),
        Column("item_id", String(200), primary_key=True),
        sqlite_with_rowid=False,
    )


task_groups = _offers("task_groups", "group_name")  # the candidate groups' queues
task_candidates = _offers("task_candidates", "user_name")  # the candidate users' lists

participants = Table(
    "participants",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("user", String(200), primary_key=True),
    Column("role", String(200), primary_key=True),
    Index("ix_participants_user", "user"),
)

documents = Table(
    "documents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("version", Integer, nullable=False),
    Column("media_type", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("case_id", "name", "version", name="uq_documents_case_name_version"),
)

# The text of documents' bytes, extracted once (`casework.insight.doctext`) instead of on every query that reads it:
# keyed by the blob's SHA-256, so the same bytes on any case or under any name are read once, and by the version of
# the extractor (`extraction.TEXT_VERSION`), so a changed extractor reads them again. `read_as`: "any", or for the
# rare bytes whose reading depends on whether the name or media type says PDF (no %PDF- signature, PDF objects
# inside), "pdf" or "text" as it said. Derived data: rebuilt from the blobs at any time (`casework suggest
# index-documents`; `--prune` removes an older extractor's), never part of the audit trail.
document_texts = Table(
    "document_texts",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("extractor", Integer, primary_key=True),
    Column("read_as", String(8), primary_key=True),
    Column("form", String(8), nullable=False),  # pdf | text | empty; "" when it could not be read
    Column("page_count", Integer, nullable=False),  # pages of text stored (document_text_pages)
    Column("unread_pages", Integer, nullable=False),
    Column("unread_reason", Text, nullable=False),
    Column("notes", Text, nullable=False),  # JSON list of what a person should know of how it was read
    Column("error", Text, nullable=True),  # why its text could not be read (encrypted, damaged, not text, ...)
    Column("extracted_at", DateTime(timezone=True), nullable=False),
)

document_text_pages = Table(
    "document_text_pages",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("extractor", Integer, primary_key=True),
    Column("read_as", String(8), primary_key=True),
    Column("page", Integer, primary_key=True),  # 1-based
    Column("text", Text, nullable=False),
    ForeignKeyConstraint(["sha256", "extractor", "read_as"],
                         ["document_texts.sha256", "document_texts.extractor", "document_texts.read_as"],
                         name="fk_document_text_pages_text"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # timer | sla | automated | outbox
    Column("case_id", String(64), nullable=True),
    # What the job is about within its case (a plan item instance id for timers); unique per kind and case.
    Column("ref", String(200), nullable=False, server_default=""),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False, server_default="{}"),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "case_id", "ref", name="uq_jobs_kind_case_ref"),
    Index("ix_jobs_due", "due_at"),
    Index("ix_jobs_case", "case_id"),
)

# Decision support's findings on each open case (flags and rule suggestions, `casework.insight.watch`), as they
# stood when the case last changed: derived data, rebuilt from the case at any time; the audit trail holds what people
# did about them (accept/dismiss events).
case_findings = Table(
    "case_findings",
    metadata,
    Column("case_id", String(64), ForeignKey("cases.id"), primary_key=True),
    Column("finding_id", String(300), primary_key=True),
    Column("kind", String(20), nullable=False),  # flag | suggestion
    Column("severity", String(20), nullable=False),  # info | warning | critical
    Column("source", String(20), nullable=False),  # rule | gap | sla | path
    Column("message", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("action", Text, nullable=True),  # JSON of the suggested action
    Column("case_version", Integer, nullable=False),  # the case version it was judged at
    Column("model_version", String(200), nullable=False, server_default=""),
    Column("case_type", String(200), nullable=False, server_default=""),  # the case type that judged it
    # when the finding first appeared on the case (kept while it stays), and when it was last judged
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Index("ix_case_findings_severity", "severity", "raised_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("case_id", String(64), ForeignKey("cases.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("last_event_id", BigInteger, nullable=False),
    Column("running_hash", String(64), nullable=False),
    # JSON {case_id: [seq, hash]} for the cases touched since the previous checkpoint; lets verify point at
    # the case (and seq range) whose chain was re-hashed.
    Column("heads", Text, nullable=False),
    Column("signature", String(128), nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Every checkpoint starts from the newest one, and verify reads them in this order: without it, each one
    # scanned every earlier one (half a million a year at one a minute), holding the writers back meanwhile.
    Index("ix_checkpoints_last_event", "last_event_id", "id"),
)
