"""`CaseService`: load a case, run a command through the engine, persist the result in one transaction."""

from __future__ import annotations

import asyncio
import codecs
import functools
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Connection, insert, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from casework import names
from casework.audit.checkpoints import Checkpointer
from casework.audit.hashing import GENESIS
from casework.engine import CaseState, CommandRejected, Event, apply, commands, execute
from casework.model import CaseDefinition, ModelError, load_definition
from casework.model.errors import Problem
from casework.service import projection as proj
from casework.service.cache import HeadCache
from casework.service.combining import Combiner, Request
from casework.service.errors import (
    Conflict,
    Corrupt,
    DocumentTooLarge,
    InvalidInput,
    NotFound,
    OutcomeUnknown,
    ServiceClosed,
)
from casework.service.loop_rounds import LoopRounds
from casework.service.mediatype import media_type_problem
from casework.store import CaseHead, DocumentRow, Store, VersionMismatch, WriteOutcomeUnknown, storable
from casework.store import schema as t
from casework.store import writes as w
from casework.store.blobs import NotBytes, TooLarge, max_document_bytes

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_ATTEMPTS = 5
# A command rewrites the case's snapshot once this many events have been appended since the last one (and always
# when the case's status changes or it migrates): writing the whole state on every command cost more CPU and disk
# than the rest of the command's writes together. Reading a case not in the cache applies at most this many events.
SNAPSHOT_EVERY = 32
_INBOX_TABLES = ("tasks", "task_groups", "task_candidates", "participants")  # what `reproject` rebuilds
_CASE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# The snapshot's JSON, as json.dumps(..., separators=(",", ":")) writes it, without building an encoder each time.
# (No circular-reference check: a case state is plain data, a tree.)
_SNAPSHOT = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CaseResult:
    """What a command did: the case's new version and status, and the events it appended (empty if none).

    For the resulting state call `CaseService.state(case_id)`: the service keeps its own working copy private.
    """

    case_id: str
    version: int
    status: str
    created: bool = False
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class _Prepared:
    """A command run through the engine, its write computed and not yet made."""

    head: CaseHead
    state: CaseState
    events: list[Event]
    work: w.CommandWrite
    after: proj.Views
    target: tuple[str, int] | None  # the definition a migration moves the case to


@dataclass(frozen=True, slots=True)
class _Retry:
    """A round's answer for a command whose case had changed: its owner goes on alone."""

    lost_race: bool


class _InFlight:
    """The calls that may write and are running, so that `close` can wait for them before the last checkpoint.

    One entry per call in a deque: its append and pop are atomic under the GIL, which a lock-guarded counter had
    cost every command twice over (about 8k instructions of a 960k-instruction task completion)."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls: deque[None] = deque()

    def wait_idle(self, poll: float = 0.001) -> None:
        while self.calls:  # polled: only a shutdown waits here
            time.sleep(poll)


P = ParamSpec("P")
R = TypeVar("R")


def _counted(method: Callable[Concatenate[CaseService, P], R]) -> Callable[Concatenate[CaseService, P], R]:
    """A call that may write: counted while it runs, and refused once the service is closed. (Checked inside the
    count, so a call either sees the service closed or is waited for by `close`.)"""

    @functools.wraps(method)
    def counted(self: CaseService, /, *args: P.args, **kwargs: P.kwargs) -> R:
        calls = self._inflight.calls
        calls.append(None)
        try:
            self._check_open()
            return method(self, *args, **kwargs)
        finally:
            calls.pop()

    return counted


def _counted_async(
    method: Callable[Concatenate[CaseService, P], Awaitable[R]],
) -> Callable[Concatenate[CaseService, P], Awaitable[R]]:
    @functools.wraps(method)
    async def counted(self: CaseService, /, *args: P.args, **kwargs: P.kwargs) -> R:
        calls = self._inflight.calls
        calls.append(None)
        try:
            self._check_open()
            return await method(self, *args, **kwargs)
        finally:
            calls.pop()

    return counted


class CaseService:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = utc_now,
        checkpoint_every: int = 1000,
        checkpoint_seconds: float = 60.0,
        max_attempts: int = MAX_ATTEMPTS,
        cache_size: int = 10_000,
        snapshot_every: int = SNAPSHOT_EVERY,
    ) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self.store = store
        self.snapshot_every = snapshot_every
        self.clock = clock
        self.max_attempts = max_attempts
        self.checkpointer = Checkpointer(store, every_events=checkpoint_every, every_seconds=checkpoint_seconds)
        self._definitions: dict[tuple[str, int], CaseDefinition] = {}
        self._definitions_lock = threading.Lock()
        # Recently written cases, so the next command skips the read; the version check on write catches any
        # copy made stale by another process, which is then re-read.
        self._heads = HeadCache(cache_size)
        self._combiner = Combiner(self._execute_round, run_one=self._execute_one)
        self._loop_rounds = LoopRounds(self._combiner)
        self._closed = False
        self._inflight = _InFlight()
        self._listeners: list[Callable[[str], object]] = []

    # -- definitions ----------------------------------------------------------------------------------------------

    def deploy(self, xml: str | bytes) -> tuple[str, int]:
        """Import and store a CMMN model; raises `casework.model.ModelError` (nothing stored) if it is invalid.

        Deploying the same text again returns the existing version.
        """
        key, version, _ = self.deploy_version(xml)
        return key, version

    def deploy_version(self, xml: str | bytes) -> tuple[str, int, bool]:
        """`deploy`, and whether a version was added: the same text as the latest version of its key adds none
        (an operator deploying a file again is told so, rather than shown a version number as if it were new)."""
        self._check_open()
        definition = load_definition(xml)
        text = _xml_text(xml) if isinstance(xml, bytes) else xml
        problems = storable.definition_problems(definition)
        if problems:
            raise ModelError(problems)
        version, created = self.store.deploy_definition(definition.key, definition.name, text, self.clock())
        with self._definitions_lock:
            # The same text deployed again: keep the object callers already hold (a Migrate may name it).
            self._definitions.setdefault((definition.key, version), definition)
        return definition.key, version, created

    def definition(self, key: str, version: int | None = None) -> tuple[int, CaseDefinition]:
        if version is None:
            # Every start asks for the latest version: read just its number (another process may have deployed a
            # newer one) and parse the model only the first time.
            version = self.store.latest_definition_version(key)
            if version is None:
                raise NotFound(f"no definition {key!r}")
        cached = self._definitions.get((key, version))
        if cached is not None:
            return version, cached
        row = self.store.definition(key, version)
        if row is None:
            raise NotFound(f"no definition {key!r} version {version}")
        with self._definitions_lock:
            cached = self._definitions.get((row.key, row.version))
            if cached is None:
                cached = load_definition(row.xml, deployed=True)
                self._definitions[(row.key, row.version)] = cached
        return row.version, cached

    # -- cases ----------------------------------------------------------------------------------------------------

    @_counted
    def start_case(
        self,
        definition_key: str,
        variables: Mapping[str, Any] | None = None,
        actor: str = "system",
        business_key: str | None = None,
        idempotency_key: str | None = None,
        case_id: str | None = None,
        now: datetime | None = None,
        reason: str | None = None,
    ) -> CaseResult:
        """Start a case of the latest version of a definition.

        A business key or idempotency key seen before returns the case it started (created=False), untouched.
        """
        try:
            storable.check_optional(business_key, "business key", storable.BUSINESS_KEY)
            storable.check_optional(idempotency_key, "idempotency key", storable.IDEMPOTENCY_KEY)
        except storable.NotStorable as exc:
            raise InvalidInput(str(exc)) from exc
        if business_key is not None:  # a name people type, and type again to find the case (`casework.names`)
            if problem := names.unreadable(business_key, "the business key"):
                raise InvalidInput(problem)
            business_key = names.typed(business_key)
        if case_id is not None and not (isinstance(case_id, str) and _CASE_ID.match(case_id)):
            raise InvalidInput(f"case id {case_id!r} must be 1-64 letters, digits or _.:-")
        now = _aware(now) if now is not None else self.clock()
        existing = self._existing(business_key, idempotency_key)
        if existing is not None:
            return existing
        version, definition = self.definition(definition_key)
        new_id = case_id or uuid.uuid4().hex
        state = CaseState.create(new_id, definition)
        data = dict(variables) if isinstance(variables, Mapping) else variables  # else the engine says what it is
        events = execute(definition, state, commands.StartCase(variables=data or {}, actor=actor, reason=reason), now,
                         restore=False)  # a new state object: dropped if the start is rejected
        views = proj.views(state, definition)  # kept with the cached case, for its next command
        changes = proj.changes(new_id, proj.NOTHING, views, now)
        try:
            rows = w.event_rows(new_id, 1, GENESIS, events)
            storable.check_rows(rows, changes)
        except storable.NotStorable as exc:
            raise InvalidInput(str(exc)) from exc
        snapshot = _SNAPSHOT.encode(state.to_dict())

        def work(conn: Connection) -> None:
            w.insert_case(
                conn,
                case_id=new_id,
                definition_key=definition.key,
                definition_version=version,
                business_key=business_key,
                status=state.status,
                version=len(rows),
                last_hash=rows[-1]["hash"] if rows else GENESIS,
                snapshot=snapshot,
                now=now,
            )
            if idempotency_key is not None:
                w.insert_idempotency_key(conn, idempotency_key, new_id, now)
            w.insert_events(conn, rows)
            _write_inbox(conn, new_id, changes)
            w.upsert_jobs(conn, changes.job_upserts)

        first_hash = rows[0]["hash"] if rows else ""
        lost: DBAPIError | None = None  # the first attempt's lost connection
        for attempt in (1, 2):
            try:
                self.store.write(work)
            except IntegrityError as exc:
                if attempt == 2 and self._started(new_id, first_hash):
                    break  # the first attempt, whose connection was lost, was written after all
                # Lost a race on the business key, idempotency key or case id: the winner's case is the answer.
                existing = self._existing(business_key, idempotency_key)
                if existing is not None:
                    return existing
                raise Conflict(f"case {new_id} already exists") from exc
            except DBAPIError as exc:
                # The connection was lost: before the COMMIT reached the server (nothing written), or after it (only
                # the reply lost). Reported failed when it was written, a caller without a key would start a second
                # case; so the log says which, and an unwritten start is written again (its new case id, taken by
                # the first attempt if that one is still committing, makes the second wait for it, then fail).
                if lost is not None:  # written again, and lost again: the first attempt's outcome is unknown
                    raise _start_unknown(new_id, definition_key, business_key, idempotency_key, exc) from exc
                if not exc.connection_invalidated:
                    raise
                lost = exc
                try:
                    if self._started(new_id, first_hash):
                        break
                except DBAPIError as again:  # the log cannot be read either: nothing tells
                    raise _start_unknown(new_id, definition_key, business_key, idempotency_key, again) from exc
                continue
            break
        self._heads.put(
            CaseHead(new_id, definition.key, version, len(rows), rows[-1]["hash"] if rows else GENESIS, "engine",
                     snapshot, len(rows)),
            state,
            views,
        )
        self._note_events(len(rows))
        if self._listeners:
            self._changed(new_id)
        return CaseResult(new_id, len(rows), state.status, created=True, events=events)

    @_counted
    def add_document(
        self,
        case_id: str,
        name: str,
        content: bytes | BinaryIO,
        *,
        media_type: str,
        actor: str,
        now: datetime | None = None,
        reason: str | None = None,
    ) -> DocumentRow:
        """Attach a document to a case as the next version of its name: the bytes go to the content-addressed
        blob store, and a `document_attached` event (name, version, SHA-256, size, who, why) joins the case's
        hash-chained log in the same transaction as the document's row; a suspended case takes it (its plan stays
        on hold: `engine.core.taken_while_suspended`). `NotFound` without the case,
        `CommandRejected` if the case cannot take it (it has ended) or the actor or reason is longer than the
        engine takes, `InvalidInput` (nothing recorded) for a name or media type the store cannot hold, or a media
        type not of the form type/subtype (`casework.service.mediatype`). `content`: the bytes, or a file object
        opened in binary mode, read to its end a chunk at a time (`InvalidInput` for anything else, or a file that
        reads text; `DocumentTooLarge`, nothing stored, past CASEWORK_MAX_DOCUMENT_MB, `blobs.max_document_bytes`)."""
        moment = _aware(now) if now is not None else self.clock()
        for value, what in ((name, "document name"), (media_type, "media type")):
            if not isinstance(value, str):
                raise InvalidInput(f"the {what} must be text, not {type(value).__name__}")
        try:
            storable.check_text(name, "document name", storable.DOCUMENT_NAME)
            storable.check_text(media_type, "media type", storable.MEDIA_TYPE)
        except storable.NotStorable as exc:
            raise InvalidInput(str(exc)) from exc
        # Before the bytes are stored; and the version that comes next is that of the name as the engine keeps it.
        if problem := names.unreadable(name, "the document name"):
            raise InvalidInput(problem)
        name = names.typed(name)
        if media_type and (problem := media_type_problem(media_type)):  # empty: the engine's refusal says so
            raise InvalidInput(problem)
        # The bytes first: a blob nothing refers to is harmless, a row pointing at missing bytes is not. A file
        # object is streamed: a document of gigabytes is never in memory whole.
        try:
            digest, size = self.store.blobs.put_content(content, max_document_bytes())
        except NotBytes as exc:
            raise InvalidInput(str(exc)) from exc
        except TooLarge as exc:
            raise DocumentTooLarge(str(exc), exc.limit) from exc
        command = commands.AttachDocument(name=name, sha256=digest, size=size, media_type=media_type,
                                          document_id=uuid.uuid4().hex, actor=actor, reason=reason,
                                          previous_version=self.store.latest_document_version(case_id, name))
        try:
            result = self._execute_alone(case_id, command, moment, also=_insert_documents)
        except IntegrityError as exc:  # `Store.add_document` took that version meanwhile, outside the case's log
            raise Conflict(f"document {name!r} of case {case_id} changed meanwhile; attach it again") from exc
        except WriteOutcomeUnknown as exc:
            raise _command_unknown(case_id, command, exc) from exc
        (row,) = _document_rows(case_id, result.events, moment)
        document = DocumentRow(**row)
        # Right after the attach, not inside it: the bytes, the row and the event are durable before a byte is read
        # for text, so a file that cannot be read, or a reader that fails, never fails the attach or loses the
        # document. Its text, or why it cannot be read, is stored for the readers; a failure to store it is logged,
        # and the first reader that needs it extracts it. Before the listeners, which may read it.
        from casework.insight.doctext import index_attached

        index_attached(self.store, document)
        if self._listeners:
            self._changed(case_id)
        return document

    def add_listener(self, listener: Callable[[str], object]) -> None:
        """Call `listener(case_id)` after each change of a case this service makes durable: a command that wrote
        events, a new case, an attached document. It runs in the caller's thread once the change is durable (in a
        worker thread for `aexecute`); what it raises is logged, never the caller's: the change stands."""
        self._listeners.append(listener)

    def _changed(self, case_id: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(case_id)
            except Exception:
                logger.exception("casework: a case-change listener failed for case %s", case_id)

    @_counted
    def execute(self, case_id: str, command: Any, now: datetime | None = None) -> CaseResult:
        """Run `command` on the case and persist its events, snapshot, projections and jobs atomically.

        Raises `NotFound`, the engine's `CommandRejected` (the command does not apply to the case as it is), or
        `Conflict` (the case changed concurrently and the command no longer applies; nothing was written).
        """
        now = _aware(now) if now is not None else self.clock()
        try:
            if isinstance(command, commands.Migrate):
                result = self._execute_alone(case_id, command, now)
            else:
                if self._heads.capacity > 0 and case_id not in self._heads:
                    self._warm(case_id)
                outcome = _outcome(self._combiner.run(case_id, (command, now)))
                # A round that found the case changed under it: go on alone, with the usual bounded retries.
                result = (self._execute_alone(case_id, command, now, lost_race=outcome.lost_race)
                          if isinstance(outcome, _Retry) else outcome)
        except WriteOutcomeUnknown as exc:
            raise _command_unknown(case_id, command, exc) from exc
        if self._listeners and result.events:
            self._changed(case_id)
        return result

    def preview(self, case_id: str, command: Any, now: datetime | None = None) -> list[Event]:
        """The events `execute` would append, judged by the same engine on the case as stored, with the same
        refusals (`NotFound`, `CommandRejected`, `InvalidInput` for what the store cannot hold); nothing is written.
        A dry run: another writer may change the case before the command is run for real."""
        now = _aware(now) if now is not None else self.clock()
        # Judged on a copy read from the store: a cached copy may be stale (another process wrote the case), and
        # no write's version check follows to catch it. The engine changes the state it judges on in place, so
        # no copy of it is left cached either.
        self._heads.pop(case_id)
        attempt = self._attempt(case_id, command, now, lost_race=False)
        self._heads.pop(case_id)
        return attempt.events if attempt is not None else []

    @_counted_async
    async def aexecute(self, case_id: str, command: Any, now: datetime | None = None) -> CaseResult:
        """`execute` for a caller on an event loop (a server): the same outcomes and errors. The commands of the
        loop's coroutines are gathered and run together in a worker thread, sharing rounds and commits with any
        threads calling `execute`. A cancelled caller's command may still be written."""
        now = _aware(now) if now is not None else self.clock()
        loop = asyncio.get_running_loop()
        try:
            if isinstance(command, commands.Migrate):
                result = await loop.run_in_executor(None, self._execute_alone, case_id, command, now)
            else:
                if self._heads.capacity > 0 and case_id not in self._heads:
                    await loop.run_in_executor(None, self._warm, case_id)
                outcome = _outcome(await self._loop_rounds.run(case_id, (command, now)))
                result = (await loop.run_in_executor(None, self._execute_alone, case_id, command, now,
                                                     outcome.lost_race)
                          if isinstance(outcome, _Retry) else outcome)
        except WriteOutcomeUnknown as exc:
            raise _command_unknown(case_id, command, exc) from exc
        if self._listeners and result.events:
            await loop.run_in_executor(None, self._changed, case_id)  # listeners may read the store: not on the loop
        return result

    def _warm(self, case_id: str) -> None:
        """Read a case that is not cached into the cache, in the caller's thread: a round runs its commands one
        after another, and reads there (a round trip each on PostgreSQL) would hold up every command behind them.
        A copy made stale meanwhile fails its write's version check and is read again."""
        head = self.store.case_head(case_id)
        if head is None:
            raise NotFound(f"no case {case_id}")
        if head.source != "engine":
            return  # the round refuses it
        _, definition = self.definition(head.definition_key, head.definition_version)
        state = self._load(head)
        self._heads.put(head, state, proj.views(state, definition))

    def _execute_alone(
        self,
        case_id: str,
        command: Any,
        now: datetime,
        lost_race: bool = False,
        also: Callable[[Connection, _Prepared], None] | None = None,
    ) -> CaseResult:
        """Run one command outside the rounds, with bounded retries; `also(conn, prepared)` writes more rows in the
        command's transaction (a document's row beside its event)."""
        for _attempt in range(self.max_attempts):
            attempt = self._attempt(case_id, command, now, lost_race)
            if attempt is None:
                continue
            if isinstance(attempt, CaseResult):
                return attempt
            work: Any = attempt.work if also is None else functools.partial(_together, attempt.work, also, attempt)
            try:
                self._write_settled(work, attempt.work)
            except VersionMismatch:
                self._heads.pop(case_id)
                # Someone else wrote the case first (another thread, or another process since our cached copy):
                # if the command no longer applies on the new state, that is a conflict, not a bad request.
                lost_race = True
                continue
            except BaseException:
                self._heads.pop(case_id)
                raise
            result = self._written(attempt)
            self._note_events(len(attempt.work.events))
            return result
        raise Conflict(f"case {case_id} kept changing; gave up after {self.max_attempts} attempts")

    def _write_settled(self, work: Callable[[Connection], Any], wr: w.CommandWrite) -> None:
        """`store.write(work)`; if its connection was lost (in a transaction of its own, as a document's: the group
        committer settles plain command writes itself), the same write is sent once more, as `lostwrites` does: its
        version check lets it in only if the first was not written, and the log says whether that one was."""
        try:
            self.store.write(work)
        except DBAPIError as exc:
            if not exc.connection_invalidated or isinstance(exc, IntegrityError):
                raise
            try:
                try:
                    self.store.write(work)
                except VersionMismatch:
                    written = self.store.events(wr.case_id, after_seq=wr.version - 1, upto_seq=wr.version)
                    if not (written and written[0].hash == wr.last_hash):
                        raise
            except (VersionMismatch, IntegrityError):  # another writer's change stands where this one's would
                raise
            except DBAPIError as again:  # e.g. the server is still down: it may have been written
                raise WriteOutcomeUnknown(wr.case_id) from again

    def _execute_one(self, request: Request) -> None:
        """A round of one command: the plain path, retries included."""
        command, now = request.payload
        try:
            request.result = self._execute_alone(request.key, command, now)
        except Exception as exc:
            request.error = exc

    def _execute_round(self, requests: list[Request]) -> None:
        """The combiner's round: every command through the engine, then all their writes in one group commit."""
        prepared: list[tuple[Request, _Prepared]] = []
        for request in requests:
            command, now = request.payload
            try:
                attempt = self._attempt(request.key, command, now, lost_race=False)
            except Exception as exc:
                request.error = exc
                continue
            if attempt is None:
                request.result = _Retry(lost_race=False)
            elif isinstance(attempt, CaseResult):
                request.result = attempt
            else:
                prepared.append((request, attempt))
        if not prepared:
            return
        try:
            errors = self.store.write_commands([attempt.work for _, attempt in prepared])
        except BaseException:
            for request, _ in prepared:
                self._heads.pop(request.key)
            raise
        written = 0
        for (request, attempt), error in zip(prepared, errors, strict=True):
            if error is None:
                request.result = self._written(attempt)
                written += len(attempt.work.events)
                continue
            self._heads.pop(request.key)
            if isinstance(error, VersionMismatch):
                request.result = _Retry(lost_race=True)
            else:
                request.error = error
        if written:
            self._note_events(written)

    def _note_events(self, n: int) -> None:
        """Count `n` durable events towards the next audit checkpoint, which may be written now."""
        try:
            self.checkpointer.note(n)
        except Exception:  # the commands are durable and must not be reported failed; the next checkpoint seals them
            logger.exception("casework: writing an audit checkpoint failed")

    def _attempt(
        self, case_id: str, command: Any, now: datetime, lost_race: bool
    ) -> _Prepared | CaseResult | None:
        """One try at `command`: what to write (`_Prepared`), the result if it changes nothing, or None if it was
        judged on a cached copy that may be stale (the copy is dropped: try again from the store)."""
        head, cached_state, cached_views = self._heads.take(case_id)
        from_cache = head is not None
        if head is None:
            head = self.store.case_head(case_id)
            if head is None:
                raise NotFound(f"no case {case_id}")
        if head.source != "engine":
            raise CommandRejected(f"case {case_id} was imported from a log and is closed")
        _, definition = self.definition(head.definition_key, head.definition_version)
        state = cached_state or self._load(head)
        before = (
            cached_views if cached_state is not None and cached_views is not None else proj.views(state, definition)
        )
        status_before = state.status
        try:
            # A rejected command's state object is dropped below (cached or not), so the engine need not restore it.
            events = execute(definition, state, command, now, restore=False)
        except CommandRejected as exc:
            if from_cache:  # judged on a possibly stale copy: judge again on what is stored
                self._heads.pop(case_id)
                return None
            if lost_race:
                raise Conflict(
                    f"case {case_id} changed concurrently and the command no longer applies: {exc}"
                ) from exc
            raise
        if not events:
            if from_cache:
                stored = self.store.case_head(case_id)
                if stored is None or stored.version != head.version:
                    # Another process wrote the case since this copy: "nothing to do" was judged on a state that
                    # is gone (the stored one may differ exactly where this command would change it).
                    self._heads.pop(case_id)
                    return None
            if cached_state is not None:
                self._heads.put(head, state, before)
            return CaseResult(case_id, head.version, state.status)
        target = self._migration_target(command) if isinstance(command, commands.Migrate) else None
        # Text the database cannot hold is a bad request, refused before anything is written. (A plain try: this
        # runs for every command, and a contextlib context manager costs 1.4 us to enter and leave.)
        try:
            rows = w.event_rows(case_id, head.version + 1, head.last_hash, events)
            version = head.version + len(rows)
            snapshot_json: str | None = None
            if (target is not None or state.status != status_before
                    or version - head.snapshot_version >= self.snapshot_every):
                snapshot_json = _SNAPSHOT.encode(state.to_dict())
            # The unit of work is plain data, computed here outside the write lock: the group committer writes a
            # batch of them together. The views follow the state: from what the events touched where that can be
            # told (`before` is this attempt's own, taken from the cache or just built, so it is updated in place).
            advanced = None if target is not None else proj.advance(case_id, before, state, definition, events, now)
            if advanced is not None:
                after, c = advanced
            else:
                after = proj.views(state, self.definition(*target)[1] if target is not None else definition)
                c = proj.changes(case_id, before, after, now)
            work = w.CommandWrite(
                case_id=case_id,
                expected_version=head.version,
                status=state.status,
                snapshot=snapshot_json,
                now=now,
                events=rows,
                task_upserts=c.task_upserts,
                task_deletes=c.task_deletes,
                participants_add=c.participants_add,
                participants_remove=c.participants_remove,
                queued_add=c.queued_add,
                queued_remove=c.queued_remove,
                offered_add=c.offered_add,
                offered_remove=c.offered_remove,
                job_upserts=c.job_upserts,
                job_deletes=c.job_deletes,
                definition=target,
                previous_status=status_before,
            )
        except storable.NotStorable as exc:
            raise InvalidInput(str(exc)) from exc
        return _Prepared(head, state, events, work, after, target)

    def _written(self, p: _Prepared) -> CaseResult:
        """The command's result once its write is durable; the case's new head is cached for the next command.
        The caller counts the events towards the next checkpoint."""
        work, head = p.work, p.head
        version = work.expected_version + len(work.events)
        if work.snapshot is None:
            snapshot_json, snapshot_version = head.snapshot_json, head.snapshot_version
        else:
            snapshot_json, snapshot_version = work.snapshot, version
        def_key, def_version = p.target or (head.definition_key, head.definition_version)
        self._heads.put(
            CaseHead(head.id, def_key, def_version, version, work.events[-1]["hash"], head.source, snapshot_json,
                     snapshot_version),
            None if p.target is not None else p.state,
            None if p.target is not None else p.after,
        )
        return CaseResult(head.id, version, p.state.status, events=p.events)

    def close(self) -> None:
        """Refuse new commands, let the running ones finish, then seal the events written since the last checkpoint
        and stop the checkpoint timer and the worker thread of `aexecute`. The store stays open: it is the
        caller's."""
        self._closed = True
        self._inflight.wait_idle()
        self._loop_rounds.close()
        self._combiner.wait_idle()
        self.checkpointer.close()

    def _check_open(self) -> None:
        if self._closed:
            # A command written now would stay unsealed until some later service writes a checkpoint.
            raise ServiceClosed("the case service is closed")

    def __enter__(self) -> CaseService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def state(self, case_id: str) -> CaseState:
        head = self.store.case_head(case_id)
        if head is None:
            raise NotFound(f"no case {case_id}")
        if head.source != "engine":
            raise InvalidInput(f"case {case_id} was imported from a log and has no engine state")
        return self._load(head)

    def state_at_head(self, head: CaseHead) -> CaseState:
        """The state of an engine case at the version `head` (read from the store) names: for a caller that needs
        the head as well, so that both describe one version of the case."""
        if head.source != "engine":
            raise InvalidInput(f"case {head.id} was imported from a log and has no engine state")
        return self._load(head)

    def _load(self, head: CaseHead) -> CaseState:
        """The case's state at head.version: its snapshot and the events after it."""
        state = CaseState.from_dict(json.loads(head.snapshot_json))
        if head.snapshot_version < head.version:
            tail = self.store.events(head.id, after_seq=head.snapshot_version, upto_seq=head.version)
            if len(tail) != head.version - head.snapshot_version:
                raise Corrupt(
                    f"case {head.id}: events {head.snapshot_version + 1}..{head.version} are not all in the log "
                    f"(found {len(tail)}); run `casework audit verify`"
                )
            for stored in tail:
                apply(state, Event(stored.type, stored.at, stored.actor, stored.reason, stored.payload))
        return state

    # -- helpers --------------------------------------------------------------------------------------------------

    def _migration_target(self, command: Any) -> tuple[str, int]:
        """The deployed (key, version) a Migrate command moves the case to: the case row must name it."""
        for (key, version), definition in list(self._definitions.items()):
            if definition is command.definition:
                return key, version
        if command.version is not None and str(command.version).isdigit():
            key = str(command.definition.key)
            version = int(command.version)
            try:
                _, deployed = self.definition(key, version)
            except NotFound:
                pass
            else:
                if deployed == command.definition:
                    return key, version
                raise InvalidInput(
                    f"migrate: version {version} of {key!r} is not the definition given; deploy that definition and "
                    "pass the definition and version it returned"
                )
        raise InvalidInput("migrate: deploy the target definition first and pass the definition it returned")

    def _started(self, case_id: str, first_hash: str) -> bool:
        """Whether the log holds the case's first event with this hash: its start, as this service wrote it."""
        first = self.store.events(case_id, upto_seq=1)
        return bool(first) and first[0].hash == first_hash

    def _existing(self, business_key: str | None, idempotency_key: str | None) -> CaseResult | None:
        found = None
        if idempotency_key is not None:
            found = self.store.case_id_for_idempotency_key(idempotency_key)
        if found is None and business_key is not None:
            found = self.store.case_id_for_business_key(business_key)
        if found is None:
            return None
        row = self.store.case(found)
        if row is None:  # pragma: no cover - keys are only written together with their case
            return None
        return CaseResult(row.id, row.version, row.status, created=False)

    def reproject(self, case_id: str, now: datetime | None = None) -> bool:
        """Rebuild the case's inbox rows (tasks, group queues, candidate users' lists, participants) from its state,
        replacing what is stored: for rows that an older casework did not write or wrote wrong (e.g. tasks opened
        before candidate users were read from models). Timer and SLA jobs are left alone: the worker owns their
        claims. False for a case imported from a log, which has no engine state; `NotFound` if there is no case."""
        now = now or self.clock()
        for _attempt in range(self.max_attempts):
            head = self.store.case_head(case_id)
            if head is None:
                raise NotFound(f"no case {case_id}")
            if head.source != "engine":
                return False
            state = self._load(head)
            _, definition = self.definition(head.definition_key, head.definition_version)
            changes = proj.changes(case_id, proj.NOTHING, proj.views(state, definition), now)
            try:
                self.store.write(functools.partial(_replace_inbox, case_id=case_id, version=head.version,
                                                   changes=changes))
            except VersionMismatch:
                continue  # a command changed the case meanwhile: rebuild from its new state
            return True
        raise Conflict(f"case {case_id} kept changing; gave up after {self.max_attempts} attempts")


def _command_unknown(case_id: str, command: Any, lost: WriteOutcomeUnknown) -> OutcomeUnknown:
    return OutcomeUnknown.of(
        case_id, f"command {type(command).__name__}", lost.__cause__ or lost,
        f"read the case's log (`casework audit state-at {case_id} --db URL`, or `Store.events`) to see whether it "
        "holds the command before sending it again")


def _start_unknown(case_id: str, definition_key: str, business_key: str | None, idempotency_key: str | None,
                   cause: BaseException) -> OutcomeUnknown:
    key = ("idempotency key" if idempotency_key is not None else "business key" if business_key is not None
           else None)
    then = (f"start it again with the same {key}: the case is started at most once" if key is not None else
            f"see whether the case exists (`casework audit state-at {case_id} --db URL`) before starting it again")
    return OutcomeUnknown.of(case_id, f"the start of a case of {definition_key!r}", cause, then)


def _outcome(request: Request) -> CaseResult | _Retry:
    """What a round did with a command: raises its error, or gives its result or `_Retry`."""
    if request.error is not None:
        raise request.error
    result: CaseResult | _Retry = request.result
    return result


def _replace_inbox(conn: Connection, *, case_id: str, version: int, changes: proj.Changes) -> None:
    """`reproject`'s unit of work: the case's inbox rows replaced by `changes`, computed from the case at `version`.
    Runs under the write lock (SQLite) or the case row's lock (PostgreSQL), so no command slips in between."""
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    stored = conn.execute(text(f"SELECT version FROM cases WHERE id = :id{lock}"), {"id": case_id}).scalar_one()
    if stored != version:
        raise VersionMismatch(case_id, version)
    for table in _INBOX_TABLES:
        conn.execute(text(f"DELETE FROM {table} WHERE case_id = :id"), {"id": case_id})
    _write_inbox(conn, case_id, changes)


def _write_inbox(conn: Connection, case_id: str, c: proj.Changes) -> None:
    """A case's inbox rows from nothing: its tasks, group-queue and candidate rows, participants."""
    w.upsert_tasks(conn, c.task_upserts)
    w.write_keyed_rows(conn, [w.KeyedRows(case_id, participants_add=c.participants_add, queued_add=c.queued_add,
                                          offered_add=c.offered_add)])


def _document_rows(case_id: str, events: list[Event], now: datetime) -> list[dict[str, Any]]:
    """The documents table's rows for the `document_attached` events among `events`."""
    return [
        {"id": e.payload["id"], "case_id": case_id, "name": e.payload["name"], "version": e.payload["version"],
         "media_type": e.payload["media_type"], "sha256": e.payload["sha256"], "size": e.payload["size"],
         "created_by": e.actor, "created_at": now.astimezone(UTC)}
        for e in events
        if e.type == "document_attached"
    ]


def _insert_documents(conn: Connection, prepared: _Prepared) -> None:
    rows = _document_rows(prepared.work.case_id, prepared.events, prepared.work.now)
    if rows:
        conn.execute(insert(t.documents), rows)


def _together(work: Callable[[Connection], Any], also: Callable[[Connection, _Prepared], None],
              prepared: _Prepared, conn: Connection) -> None:
    work(conn)
    also(conn, prepared)


def _aware(now: datetime) -> datetime:
    """A caller's `now`, in UTC: event times are written as UTC instants, so a time without a zone means nothing
    here; and SQLite keeps a timestamp column as the wall-clock text it is given, so a time in another zone would
    sort and compare wrongly beside the others."""
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInput(f"now must be a datetime with a time zone, not {now!r}")
    return now.astimezone(UTC)


_XML_DECLARED = re.compile(rb"""^<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def _xml_text(data: bytes) -> str:
    """The text of a model given as bytes, decoded as the XML parser did (byte order mark, else the declaration,
    else UTF-8), to be stored as text."""
    if data.startswith(codecs.BOM_UTF8):
        return data.decode("utf-8-sig")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    declared = _XML_DECLARED.match(data.lstrip())
    try:
        return data.decode(declared.group(1).decode("ascii") if declared else "utf-8")
    except (LookupError, UnicodeDecodeError) as exc:  # the parser accepted it, so this is a codec Python lacks
        raise ModelError([Problem("", f"cannot decode the model's text: {exc}")]) from None


