"""Text that both databases can hold, checked before anything is written.

SQLite stores any string of any length; PostgreSQL refuses a NUL character in text and a value longer than its
`VARCHAR(n)` column, and neither driver can encode a lone surrogate (which Python strings, and so JSON request
bodies, may carry). Unchecked, the same command would succeed on SQLite and fail on PostgreSQL with a driver error
from the middle of a batch. Checked here, it fails on both, first, with a message that names the field.
Payloads are stored as JSON, which escapes control characters, so only their surrogates matter (the hash chain's
UTF-8 encoding finds those).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from casework import names
from casework.store import schema as t
from casework.store.records import StoreError

if TYPE_CHECKING:  # the model loads the expression engine, which a store that only reads does not need
    from casework.model.definition import CaseDefinition
    from casework.model.errors import Problem


class NotStorable(StoreError, ValueError):
    """A value the database cannot hold as given; nothing was written."""


def _length(column: Any) -> int:
    length = column.type.length
    assert isinstance(length, int), column
    return length


ACTOR = _length(t.events.c.actor)
ITEM_ID = _length(t.tasks.c.item_id)
TASK_NAME = _length(t.tasks.c.name)
OWNER = _length(t.tasks.c.owner)
CANDIDATES = _length(t.tasks.c.candidate_groups)
GROUP = _length(t.task_groups.c.group_name)
USER = _length(t.participants.c.user)
ROLE = _length(t.participants.c.role)
JOB_REF = _length(t.jobs.c.ref)
BUSINESS_KEY = _length(t.cases.c.business_key)
IDEMPOTENCY_KEY = _length(t.idempotency_keys.c.key)
DEFINITION_KEY = _length(t.definitions.c.key)
DEFINITION_NAME = _length(t.definitions.c.name)
DOCUMENT_NAME = _length(t.documents.c.name)
MEDIA_TYPE = _length(t.documents.c.media_type)


def check_text(value: str, what: str, limit: int | None = None) -> None:
    """Raise `NotStorable` unless `value` is at most `limit` characters, without NUL, and valid Unicode."""
    if limit is not None and len(value) > limit:
        raise NotStorable(f"{what} is {len(value)} characters long; at most {limit} are allowed")
    if "\x00" in value:
        raise NotStorable(f"{what} contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise NotStorable(f"{what} is not valid Unicode (it holds a lone surrogate)") from None


def check_optional(value: str | None, what: str, limit: int) -> None:
    """`check_text` for a value that may be absent, and that a caller may have passed as something else than text."""
    if value is not None:
        if not isinstance(value, str):
            raise NotStorable(f"{what} must be text, not {type(value).__name__}")
        check_text(value, what, limit)


def definition_problems(definition: CaseDefinition) -> list[Problem]:
    """Where the names a model puts into the store's columns do not fit them: found when the model is validated or
    deployed, not when the first case of it is started (and refused there, on every start)."""
    from casework.model.errors import Problem

    problems: list[Problem] = []

    def check(element: str, value: str | None, what: str, limit: int) -> None:
        try:
            check_optional(value, what, limit)
        except NotStorable as exc:
            problems.append(Problem(element, str(exc)))
            return
        # The names commands take as people type them (`casework.names`): one that does not show could pass for
        # another on the audit trail, and one not in NFC is never matched by the name a command gives (kept in NFC).
        if value is None:
            return
        if problem := names.unreadable(value, f"the {what}"):
            problems.append(Problem(element, problem))
        elif not unicodedata.is_normalized("NFC", value):
            problems.append(Problem(element, f"the {what} {value!r} is not in Unicode normalisation form C (NFC), "
                                             "the form names are kept in: save the model in NFC"))

    check("", definition.key, "case key", DEFINITION_KEY)
    check("", definition.name, "case name", DEFINITION_NAME)
    for item in definition.items.values():
        check(item.id, item.id, "plan item id", ITEM_ID)
        check(item.id, item.name, "name", TASK_NAME)
        check(item.id, item.assignee, "assignee", OWNER)
        check(item.id, ",".join(item.candidate_groups), "candidate groups (together)", CANDIDATES)
        check(item.id, ",".join(item.candidate_users), "candidate users (together)", CANDIDATES)
        for group in item.candidate_groups:
            check(item.id, group, "candidate group", GROUP)
        for user in item.candidate_users:
            check(item.id, user, "candidate user", USER)
    return problems


def _check_pairs(pairs: Iterable[tuple[str, str]], first: tuple[str, int], second: tuple[str, int]) -> None:
    for a, b in pairs:
        check_text(a, *first)
        check_text(b, *second)


# (row key, what to call it, limit) of the task rows' text columns that people and models fill
_TASK_TEXT = (
    ("item_id", "item id", ITEM_ID),
    ("def_id", "item id", ITEM_ID),
    ("name", "item name", TASK_NAME),
    ("owner", "assignee", OWNER),
    ("candidate_groups", "candidate groups (together)", CANDIDATES),
    ("candidate_users", "candidate users (together)", CANDIDATES),
)


class ProjectionRows(Protocol):
    """The projection rows a command or a new case writes (a `CommandWrite`, or the service's `Changes`)."""

    @property
    def task_upserts(self) -> Sequence[dict[str, Any]]: ...
    @property
    def participants_add(self) -> Sequence[tuple[str, str]]: ...
    @property
    def queued_add(self) -> Sequence[tuple[str, str]]: ...
    @property
    def offered_add(self) -> Sequence[tuple[str, str]]: ...
    @property
    def job_upserts(self) -> Sequence[dict[str, Any]]: ...


def check_rows(events: Iterable[dict[str, Any]], wr: ProjectionRows) -> None:
    """Every text column that events and projection rows fill (actor and reason, the inbox's names and people): the
    values that come from people and models rather than from the engine itself."""
    # Every command comes through here: the common case (short ASCII text) is tested inline, and only a value that
    # fails that quick test goes through `check_text`, which passes valid non-ASCII text and names the problem.
    for event in events:
        actor = event["actor"]
        if len(actor) > ACTOR or "\x00" in actor or not actor.isascii():
            check_text(actor, "actor", ACTOR)
        reason = event["reason"]
        if reason is not None and ("\x00" in reason or not reason.isascii()):
            check_text(reason, "reason")
    for task in wr.task_upserts:
        for key, what, limit in _TASK_TEXT:
            value = task[key]
            if value is not None and (len(value) > limit or "\x00" in value or not value.isascii()):
                check_text(value, what, limit)
    if wr.participants_add:
        _check_pairs(wr.participants_add, ("participant", USER), ("role", ROLE))
    if wr.queued_add:
        _check_pairs(wr.queued_add, ("item id", ITEM_ID), ("candidate group", GROUP))
    if wr.offered_add:
        _check_pairs(wr.offered_add, ("item id", ITEM_ID), ("candidate user", USER))
    for job in wr.job_upserts:
        check_text(job["ref"], "job reference", JOB_REF)
