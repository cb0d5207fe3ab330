"""`verify`: recompute every hash chain and every signed checkpoint, and name the first broken link."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Select, func, select

from casework.audit import witness
from casework.audit.checkpoints import (
    RECOPY,
    Checkpoint,
    fingerprint,
    is_hex_key,
    iter_checkpoints,
    load_public_key,
    message,
    parse_public_key,
    public_hex,
)
from casework.audit.hashing import GENESIS, event_hash, running_hash
from casework.engine.events import Event, apply
from casework.engine.state import CaseState
from casework.store import Store
from casework.store import schema as t
from casework.store.integrity import check_integrity

MAX_PROBLEMS = 100
# Cases whose replayed snapshot waits to be compared with the stored one, fetched together in one query.
_SNAPSHOT_BATCH = 500
# The service's snapshot encoding (casework.service.service); compared as parsed JSON, so key order and spacing
# do not matter, only content.
_SNAPSHOT = json.JSONEncoder(separators=(",", ":"), check_circular=False)


@dataclass(frozen=True)
class Problem:
    case_id: str | None
    seq: int | None
    event_id: int | None
    what: str

    def __str__(self) -> str:
        where = f"case {self.case_id}" if self.case_id else "log"
        if self.seq is not None:
            where += f" seq {self.seq}"
        if self.event_id is not None:
            where += f" (event #{self.event_id})"
        return f"{where}: {self.what}"


@dataclass
class Report:
    cases: int = 0
    events: int = 0
    checkpoints: int = 0
    sealed_events: int = 0  # events covered by a signed checkpoint
    signatures_checked: bool = False
    # Why the signatures of existing checkpoints were not checked (no key to check them with); None if they were,
    # or if there are no checkpoints.
    signatures_unchecked: str | None = None
    documents: int = 0  # document rows checked against their `document_attached` events
    # Document rows with no event: attached before attachments were events (or by `Store.add_document`), so
    # nothing in the log vouches for them.
    unaudited_documents: int = 0
    blobs_unchecked: str | None = None  # why the documents' bytes were not looked for (no blob folder here)
    witnessed: int = 0  # checkpoints of this database in the witness file, each found unchanged in the database
    # Why the witness file was not compared (none, or unreadable): deleted checkpoints would then go unnoticed.
    witness_unchecked: str | None = None
    witness_other_databases: int = 0  # witness lines of other databases (same key file), not judged
    witness_unreadable: int = 0  # witness lines that are not a whole entry (a write cut short)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def complete(self) -> bool:
        """Everything that could be checked was: no signed checkpoint was left unchecked for want of a key, and no
        audited document's bytes for want of the blob folder."""
        return self.signatures_unchecked is None and self.blobs_unchecked is None

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        if not self.ok:
            return f"audit: {self.cases} cases, {self.events} events, BROKEN at {self.first}"
        if self.signatures_unchecked is not None:
            return (
                f"audit: {self.cases} cases, {self.events} events, hash chains ok, but the signatures of "
                f"{_checkpoints(self.checkpoints)} were NOT checked: {self.signatures_unchecked}"
            )
        if self.blobs_unchecked is not None:
            return (
                f"audit: {self.cases} cases, {self.events} events, hash chains ok, but the bytes of "
                f"{self.documents} documents were NOT checked: {self.blobs_unchecked}"
            )
        return f"audit: {self.cases} cases, {self.events} events, ok"

    def notes(self) -> list[str]:
        """What an ok report did not cover, one line each, to print after the summary (whose line is a contract).
        Documents whose bytes could not be looked for are not a note but an incomplete check (`complete`)."""
        notes = []
        if self.unaudited_documents:
            notes.append(f"note: {self.unaudited_documents} documents predate audited attachments: their rows are "
                         "not covered")
        if self.witness_unchecked and self.checkpoints:
            notes.append(f"note: deleted checkpoints would go unnoticed: {self.witness_unchecked}")
        if self.witnessed and self.checkpoints > self.witnessed:
            n = self.checkpoints - self.witnessed
            which = "1 checkpoint is" if n == 1 else f"{n} checkpoints are"
            notes.append(f"note: {which} not in the witness file, so deleting {'it' if n == 1 else 'them'} would go "
                         f"unnoticed (written before the file, or by a process that stopped before copying; the next "
                         f"checkpoint, or `casework audit checkpoint`, copies the newest {RECOPY})")
        if self.witness_unreadable:
            lines = "1 line of the witness file is not a whole entry" if self.witness_unreadable == 1 else (
                f"{self.witness_unreadable} lines of the witness file are not whole entries")
            notes.append(f"note: {lines}")
        return notes


def _checkpoints(n: int) -> str:
    return f"{n} checkpoint" if n == 1 else f"{n} checkpoints"


class _Head(NamedTuple):
    version: int
    last_hash: str
    source: str
    snapshot_version: int


class _Replayed(NamedTuple):
    """A case's state rebuilt from its events, to compare with its row."""

    case_id: str
    snapshot_version: int
    snapshot: Any  # the replayed state at snapshot_version, as parsed JSON
    snapshot_event_id: int
    version: int  # events replayed
    status: str  # the status they leave the case in
    last_event_id: int


def verify(store: Store, public_key: str | Ed25519PublicKey | None = None, *, snapshots: bool = True) -> Report:
    """Check every case's chain (seq, prev_hash, hash, case row head), every checkpoint (running hash, signature),
    and, with `snapshots`, each engine case's row: its snapshot and status must be what its events replay to.

    `public_key` (hex, key file, or key object) checks signatures; by default the store's configured key file is
    used if it exists (`AuditKeyError` if the key cannot be read). `DamagedDatabase` if SQLite finds the file
    damaged: a verdict on a damaged file would be worth nothing. Problems are ordered by the global position of
    the event they concern, first is first. `snapshots=False` checks the log alone (for stores written below the
    service, whose case rows hold no engine state).
    """
    key = _public_key(store, public_key)
    # The witness file first: every checkpoint it lists was committed before its line was written, so the snapshot
    # taken after reading it holds them all. Read the other way round, a checkpoint written meanwhile (a live
    # service seals every minute) was in the file but not yet in the snapshot, and looked deleted.
    witnessed = _read_witness(store, _key_file(store, public_key))
    with _snapshot(store) as conn:
        check_integrity(conn)
        return _verify(store, conn, key, witnessed, snapshots)


@contextmanager
def _snapshot(store: Store) -> Iterator[Connection]:
    """One read transaction for the whole run, so that every query sees the database as it was at one moment.
    Read in several transactions, a live database (commands, an import) showed verify cases whose row was read
    before they existed ("events belong to no case row") or before their last command ("events appended past the
    case row"): a broken link reported where there was none."""
    with store.engine.connect() as conn:
        if not store.is_sqlite:
            conn.execution_options(isolation_level="REPEATABLE READ")  # SQLite's read transaction is a snapshot
        with conn.begin():
            yield conn


def _verify(
    store: Store, conn: Connection, key: Ed25519PublicKey | None, witnessed: _WitnessRead, snapshots: bool
) -> Report:
    report = Report()
    report.signatures_checked = key is not None
    report.cases = _count_cases(conn)
    problems: list[tuple[int, Problem]] = []
    pending: list[_Replayed] = []
    attached: dict[str, tuple[int, str, int, str, dict[str, Any]]] = {}  # document id -> its event (id, case, seq...)

    # Pass 1, per case in seq order: each event must hash to its stored hash and link to the one before it; an
    # engine case's events are replayed to check its row's snapshot and status, which the service acts on.
    current: str | None = None
    expect_seq, prev = 1, GENESIS
    broken_case = False
    state: CaseState | None = None  # the replay of the current case (None: not replayed)
    snapshot_seq = -1  # the seq the current case's stored snapshot is at
    at_snapshot: tuple[Any, int] | None = None  # (replayed snapshot, event id) once the replay reaches its seq

    def close_case(case_id: str | None, head: _Head | None, last_seq: int, last_hash: str, last_id: int) -> None:
        if case_id is None or broken_case:
            return
        if head is None:
            problems.append((last_id, Problem(case_id, None, None, "events belong to no case row")))
            return
        if head.version != last_seq:
            problems.append(
                (
                    last_id,
                    Problem(
                        case_id,
                        last_seq + 1 if head.version > last_seq else last_seq,
                        None,
                        f"case row says the chain ends at seq {head.version} but the events end at seq {last_seq}"
                        " (events removed or appended past the case row)",
                    ),
                )
            )
            return
        if head.last_hash != last_hash:
            what = (
                f"case row's chain head (last_hash) is not the hash of its last event, seq {last_seq}"
                " (case row edited)"
            )
            problems.append((last_id, Problem(case_id, last_seq, None, what)))
            return
        if state is None:
            return
        if at_snapshot is None:  # the replay failed (already reported) or never reached the snapshot
            if head.snapshot_version > last_seq:
                what = f"case row's snapshot claims seq {head.snapshot_version}, past its last event (case row edited)"
                problems.append((last_id, Problem(case_id, last_seq, None, what)))
            return
        pending.append(
            _Replayed(case_id, head.snapshot_version, at_snapshot[0], at_snapshot[1], last_seq, state.status, last_id)
        )
        if len(pending) >= _SNAPSHOT_BATCH:
            problems.extend(_compare_rows(conn, pending))
            pending.clear()

    last_id = 0
    head: _Head | None = None
    e, c = t.events.c, t.cases.c
    # A case's first event comes with its case row, rather than every case's row read into memory first, which
    # held the whole cases table for the run (with the checkpoints, see `_check_checkpoints`: 172 MB at 94,000
    # cases, 84 MB without). Joined to every event, the row cost an index probe per event instead of per case.
    query = select(
        e.id, e.case_id, e.seq, e.type, e.at, e.actor, e.reason, e.payload, e.prev_hash, e.hash,
        c.version, c.last_hash, c.source, c.snapshot_version,
    ).select_from(t.events.outerjoin(t.cases, (c.id == e.case_id) & (e.seq == 1)))
    # Closed on the way out, even by an exception: on PostgreSQL an open stream holds its transaction.
    with closing(_stream(conn, query.order_by(e.case_id, e.seq))) as stream:
        for (ev_id, case_id, seq, type_, at, actor, reason, payload_text, prev_hash, digest,
             head_version, head_hash, head_source, head_snapshot) in stream:
            report.events += 1
            if case_id != current:
                close_case(current, head, expect_seq - 1, prev, last_id)
                current, expect_seq, prev, broken_case = case_id, 1, GENESIS, False
                # A chain that does not start at seq 1 is reported broken below, and a broken case's row is not
                # compared: only seq 1 needs the row the query joins to it.
                head = (_Head(int(head_version), head_hash, head_source, int(head_snapshot))
                        if seq == 1 and head_version is not None else None)
                state, at_snapshot, snapshot_seq = None, None, -1
                if head is not None and head.source == "import":
                    if type_ != "case_imported" and seq == 1:
                        problems.append((ev_id, Problem(case_id, None, None, (
                            f"case row says the case was imported, but its log starts with {type_!r} (case row edited)"
                        ))))
                elif snapshots and head is not None:
                    state = CaseState(case_id=case_id, definition_key="")
                    snapshot_seq = head.snapshot_version
                    if snapshot_seq == 0:
                        at_snapshot = (_as_json(state), ev_id)
            last_id = ev_id
            if broken_case:
                continue
            what: str | None = None
            bad_seq = seq
            payload: Any = None
            if not isinstance(seq, int):  # SQLite keeps whatever is written into an INTEGER column
                what = f"seq {seq!r} is not a number (event edited)"
                bad_seq = expect_seq
            elif seq != expect_seq:
                what = f"expected seq {expect_seq}, found seq {seq}: events {expect_seq}..{seq - 1} are missing"
                bad_seq = expect_seq
            elif prev_hash != prev:
                what = "prev_hash does not match the hash of the event before it (event inserted, removed or moved)"
            else:
                try:
                    payload = json.loads(payload_text)
                    recomputed = event_hash(
                        case_id=case_id, seq=seq, type=type_, at=at, actor=actor,
                        reason=reason, payload=payload, prev_hash=prev_hash,
                    )
                except (ValueError, TypeError, RecursionError) as exc:
                    # Not JSON, or JSON no event can hold (NaN, a number beyond a float): it was never hashed like this.
                    what = f"content does not match its hash (event edited: its payload is not canonical JSON: {exc})"
                else:
                    if recomputed != digest:
                        what = "content does not match its hash (event edited)"
            if what is not None:
                problems.append((ev_id, Problem(case_id, bad_seq, ev_id if bad_seq == seq else None, what)))
                broken_case = True  # later links of this case follow from the first break
                continue
            expect_seq, prev = seq + 1, digest
            if type_ == "document_attached" and isinstance(payload, dict):
                attached[str(payload.get("id"))] = (ev_id, case_id, seq, actor, payload)
            if state is not None:
                try:
                    apply(state, Event(type_, at, actor, reason, payload))
                    if seq == snapshot_seq:
                        at_snapshot = (_as_json(state), ev_id)
                except Exception as exc:  # an intact chain the engine cannot apply: nor can the service load it
                    what = f"the case's events cannot be replayed: applying this one fails ({exc!r})"
                    problems.append((ev_id, Problem(case_id, seq, ev_id, what)))
                    state = None
    close_case(current, head, expect_seq - 1, prev, last_id)
    for case_id, head in _cases_without_events(conn):
        if head.version > 0:
            problems.append((0, Problem(case_id, 1, None, f"case row says {head.version} events but none are stored")))
        elif head.snapshot_version > 0:
            what = (
                f"case row says it has no events, but its snapshot is at seq {head.snapshot_version} (events deleted)"
            )
            problems.append((0, Problem(case_id, None, None, what)))
        elif snapshots and head.source != "import":
            # A case row with no events at all: the service would take its snapshot as the case's state.
            fresh = CaseState(case_id=case_id, definition_key="")
            pending.append(_Replayed(case_id, 0, _as_json(fresh), 0, 0, fresh.status, 0))
    problems.extend(_compare_rows(conn, pending))
    problems.extend(_check_documents(store, conn, attached, report))

    # Pass 2, global order: the running hash must reach each checkpoint's signed value.
    broken = {p.case_id for _, p in problems if p.case_id is not None}
    problems.extend(_check_checkpoints(conn, key, report, broken, _Gone(conn)))
    problems.extend(_check_witness(conn, witnessed, report))
    if key is None and report.checkpoints:
        report.signatures_unchecked = f"no key at {store.audit_key_path}"
    problems.sort(key=lambda p: p[0])
    report.problems = [p for _, p in problems[:MAX_PROBLEMS]]
    return report


def _key_file(store: Store, given: str | Ed25519PublicKey | None) -> Path:
    """The key file whose witness to read: the one given to check the signatures with, else the store's."""
    if isinstance(given, str) and not is_hex_key(given):
        return Path(given)
    return store.audit_key_path


class _WitnessRead(NamedTuple):
    path: Path
    seen: witness.Witnessed | None  # None: no witness file
    error: str | None  # why it could not be read


def _read_witness(store: Store, key_file: Path) -> _WitnessRead:
    path = witness.witness_path(key_file)
    try:
        tag, legacy = witness.database_tag(store.url), witness.legacy_tags(store.url)
        return _WitnessRead(path, witness.read(path, tag, legacy), None)
    except OSError as exc:
        return _WitnessRead(path, None, f"cannot read {path}: {exc.strerror or exc}")


def _check_witness(conn: Connection, witnessed: _WitnessRead, report: Report) -> list[tuple[int, Problem]]:
    """Every checkpoint the witness file saw written must still be in the database, unchanged."""
    path, seen, error = witnessed
    if seen is None:
        report.witness_unchecked = error or f"there is no witness file at {path}"
        return []
    report.witnessed = len(seen.entries)
    report.witness_other_databases = seen.other_databases
    report.witness_unreadable = seen.unreadable
    any_stored = conn.execute(select(t.checkpoints.c.id).limit(1)).first() is not None
    if any_stored and not seen.entries:
        report.witness_unchecked = f"the witness file {path} lists none of this database's checkpoints" + (
            f" (it lists {seen.other_databases} of other databases; the same database reached by another host "
            "name or path counts as another)" if seen.other_databases else "")
    with closing(iter_checkpoints(conn, heads=False)) as stored:
        missing = witness.missing_or_changed(seen, stored)
    return [(event_id, Problem(None, None, None, what)) for event_id, what in missing]


def _check_documents(
    store: Store, conn: Connection, attached: dict[str, tuple[int, str, int, str, dict[str, Any]]], report: Report
) -> list[tuple[int, Problem]]:
    """Each document row against the `document_attached` event that recorded it, and the bytes it names: the
    rows are what readers use, so a row edited, deleted or pointing at other bytes must not pass."""
    out: list[tuple[int, Problem]] = []
    # A verify run where the blob folder is not (another machine, another working directory for a PostgreSQL
    # store's default folder) checks the rows against the log, and says it could not look for the bytes.
    look = store.blobs.root.is_dir()
    d = t.documents.c
    query = select(d.id, d.case_id, d.name, d.version, d.media_type, d.sha256, d.size, d.created_by)
    with closing(_stream(conn, query.order_by(d.id))) as rows:
        for doc_id, case_id, name, version, media_type, sha256, size, created_by in rows:
            event = attached.pop(doc_id, None)
            if event is None:
                report.unaudited_documents += 1
                continue
            report.documents += 1
            ev_id, ev_case, seq, actor, p = event
            recorded = (ev_case, p.get("name"), p.get("version"), p.get("media_type"), p.get("sha256"),
                        p.get("size"), actor)
            stored = (case_id, name, version, media_type, sha256, size, created_by)
            fields = ("case", "name", "version", "media type", "sha256", "size", "author")
            differ = [f for f, a, b in zip(fields, recorded, stored, strict=True) if a != b]
            if differ:
                what = f"document {name!r} v{version}: its row's {', '.join(differ)} differ from the event (row edited)"
                out.append((ev_id, Problem(ev_case, seq, ev_id, what)))
            elif not look:
                report.blobs_unchecked = f"no blob folder at {store.blobs.root}"
            elif (intact := store.blobs.intact(sha256)) is not True:
                # The bytes are read and hashed, not only looked for: a file edited or rotted in place keeps its name.
                what = (f"document {name!r} v{version}: its bytes (sha256 {sha256[:12]}…) are not in the blob store"
                        if intact is None else
                        f"document {name!r} v{version}: the blob store's file for its bytes (sha256 {sha256[:12]}…) "
                        "holds other bytes (corrupt or edited)")
                out.append((ev_id, Problem(ev_case, seq, ev_id, what)))
    for ev_id, case_id, seq, _, p in attached.values():
        what = f"document {p.get('name')!r} v{p.get('version')} was attached but its row is gone (row deleted)"
        out.append((ev_id, Problem(case_id, seq, ev_id, what)))
    return out


def _stream(conn: Connection, query: Select[Any]) -> Generator[Any, None, None]:
    """Rows of `query` as tuples, streamed: the log may be far larger than memory."""
    result = conn.execute(query.execution_options(stream_results=True, yield_per=5000))
    try:
        yield from result
    finally:
        result.close()  # on PostgreSQL, a server-side cursor in the run's transaction


def _as_json(state: CaseState) -> Any:
    """The state as the service stores it, read back: the form a stored snapshot is compared in."""
    return json.loads(_SNAPSHOT.encode(state.to_dict()))


def _compare_rows(conn: Connection, replayed: list[_Replayed]) -> list[tuple[int, Problem]]:
    """Each case row's snapshot and status against the replay of its events."""
    if not replayed:
        return []
    c = t.cases.c
    rows = {
        r.id: r
        for r in conn.execute(
            select(c.id, c.status, c.version, c.snapshot_version, c.snapshot).where(
                c.id.in_([r.case_id for r in replayed])
            )
        )
    }
    out: list[tuple[int, Problem]] = []
    for r in replayed:
        row = rows.get(r.case_id)
        if row is None or row.version != r.version or row.snapshot_version != r.snapshot_version:
            continue  # the case moved on since its head was read (a live database): judged on the next run
        try:
            stored = json.loads(row.snapshot)
        except (ValueError, TypeError, RecursionError):
            stored = None
        if stored != r.snapshot:
            differ = (
                ", ".join(sorted(k for k in set(stored) | set(r.snapshot) if stored.get(k) != r.snapshot.get(k)))
                if isinstance(stored, dict) and isinstance(r.snapshot, dict)
                else "not readable as JSON"
            )
            what = (
                f"snapshot of the case differs from the replay of its events at seq {r.snapshot_version}"
                f" ({differ}; case row edited)"
                if r.version
                else "case row says it has no events, but its snapshot is not that of a case without any"
                " (events deleted, or the case row edited)"
            )
            out.append((r.snapshot_event_id, Problem(r.case_id, r.snapshot_version or None, None, what)))
        elif row.status != r.status:
            what = (
                f"case row's status is {row.status!r} but its events leave the case {r.status!r}"
                f" at seq {r.version} (case row edited)"
            )
            out.append((r.last_event_id, Problem(r.case_id, r.version or None, None, what)))
    return out


def _public_key(store: Store, given: str | Ed25519PublicKey | None) -> Ed25519PublicKey | None:
    if isinstance(given, Ed25519PublicKey):
        return given
    if given:
        return parse_public_key(given)
    if store.audit_key_path.exists():
        return load_public_key(store.audit_key_path)
    return None


def _count_cases(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.cases)).scalar_one())


def _cases_without_events(conn: Connection) -> Iterator[tuple[str, _Head]]:
    c, e = t.cases.c, t.events.c
    q = select(c.id, c.version, c.last_hash, c.source, c.snapshot_version).where(
        ~select(e.id).where(e.case_id == c.id).exists()
    )
    with closing(_stream(conn, q)) as rows:
        for case_id, version, last_hash, source, snapshot_version in rows:
            yield case_id, _Head(int(version), last_hash, source, int(snapshot_version))


def _signature_problem(cp: Checkpoint, key: Ed25519PublicKey) -> Problem | None:
    """None if `key` signed the checkpoint. Else: signed by the key the checkpoint names, if that is another key
    (a database sealed elsewhere, or checked with the wrong key), or an invalid signature (forged or edited)."""
    signed = message(cp.last_event_id, cp.running_hash, cp.heads_json)
    if _valid(key, cp.signature, signed):
        return None
    try:
        named: Ed25519PublicKey | None = Ed25519PublicKey.from_public_bytes(bytes.fromhex(cp.public_key))
    except (ValueError, TypeError):
        named = None
    if named is not None and public_hex(named) != public_hex(key) and _valid(named, cp.signature, signed):
        what = (
            f"checkpoint #{cp.id} was signed by a different key (fingerprint {fingerprint(named)}) than the"
            f" verifying key (fingerprint {fingerprint(key)}): check with the key that sealed this database"
        )
    else:
        what = f"checkpoint #{cp.id} signature is invalid (forged or edited)"
    return Problem(None, None, None, what)


def _valid(key: Ed25519PublicKey, signature: str, signed: bytes) -> bool:
    try:
        key.verify(bytes.fromhex(signature), signed)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _check_checkpoints(
    conn: Connection,
    key: Ed25519PublicKey | None,
    report: Report,
    broken: set[str],
    gone: _Gone,
) -> list[tuple[int, Problem]]:
    # Streamed twice (signatures, then the ranges), never held: together the checkpoints of an import sign the head
    # of every case it loaded.
    problems: list[tuple[int, Problem]] = []
    last_sealed = 0
    with closing(iter_checkpoints(conn)) as cps:
        for signed in cps:
            report.checkpoints += 1
            last_sealed = signed.last_event_id
            bad = _signature_problem(signed, key) if key is not None and not problems else None
            if bad is not None:
                problems.append((signed.last_event_id, bad))
    if problems or not report.checkpoints:
        return problems
    running = GENESIS
    # Heads recomputed per checkpoint range, to name the case whose chain no longer matches what was signed.
    rng = _Range()
    by_id = select(t.events.c.id, t.events.c.case_id, t.events.c.seq, t.events.c.hash).order_by(t.events.c.id)
    with closing(iter_checkpoints(conn)) as cps, closing(_stream(conn, by_id)) as stream:
        cp: Checkpoint | None = next(cps, None)
        for ev_id, case_id, seq, digest in stream:
            while cp is not None and ev_id > cp.last_event_id:
                problems.extend(_close_range(cp, running, rng, broken, gone))
                # Resynchronise on the signed value so that each sealed range is judged on its own.
                running, rng, cp = cp.running_hash, _Range(), next(cps, None)
            running = running_hash(running, digest)
            rng.add(case_id, seq, digest, ev_id)
        while cp is not None:
            problems.extend(_close_range(cp, running, rng, broken, gone))
            running, rng, cp = cp.running_hash, _Range(), next(cps, None)
    report.sealed_events = int(
        conn.execute(
            select(func.count()).select_from(t.events).where(t.events.c.id <= last_sealed)
        ).scalar_one()
    )
    return problems


@dataclass
class _Range:
    heads: dict[str, list[Any]] = field(default_factory=dict)
    first_id: dict[str, int] = field(default_factory=dict)

    def add(self, case_id: str, seq: int, digest: str, event_id: int) -> None:
        self.heads[case_id] = [seq, digest]
        self.first_id.setdefault(case_id, event_id)


class _Gone:
    """Whether a case still has a row and events, to tell a deletion from a re-hash: asked of the store for the few
    cases a broken checkpoint names, rather than a set of every case id held for the whole run."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def has_row(self, case_id: str) -> bool:
        return self.conn.execute(select(t.cases.c.id).where(t.cases.c.id == case_id)).first() is not None

    def has_events(self, case_id: str) -> bool:
        q = select(t.events.c.id).where(t.events.c.case_id == case_id).limit(1)
        return self.conn.execute(q).first() is not None

    def signed_before(self, cp: Checkpoint, case_id: str) -> int:
        """The seq of the case that the last checkpoint before `cp` to name it signed (0: none did), searched for
        only where a range is broken, instead of every case's last signed seq kept for the whole run."""
        c = t.checkpoints.c
        q = (select(c.heads)
             .where((c.last_event_id < cp.last_event_id) | ((c.last_event_id == cp.last_event_id) & (c.id < cp.id)))
             .order_by(c.last_event_id.desc(), c.id.desc()))
        with closing(_stream(self.conn, q)) as rows:
            for (heads_json,) in rows:
                signed = json.loads(heads_json).get(case_id)
                if signed is not None:
                    return int(signed[0])
        return 0


def _close_range(cp: Checkpoint, running: str, rng: _Range, broken: set[str], gone: _Gone) -> list[tuple[int, Problem]]:
    if running == cp.running_hash:
        return []
    signed_heads = {case_id: [int(v[0]), v[1]] for case_id, v in cp.heads.items()}
    out: list[tuple[int, Problem]] = []
    for case_id in sorted(set(signed_heads) | set(rng.heads), key=lambda c: rng.first_id.get(c, cp.last_event_id)):
        signed = signed_heads.get(case_id)
        if rng.heads.get(case_id) == signed:
            continue
        if case_id in broken:  # its own chain check already named the exact event
            continue
        if signed is None:
            what = f"events were added to the range sealed by checkpoint #{cp.id} (inserted into the sealed log)"
            out.append((rng.first_id.get(case_id, cp.last_event_id), Problem(case_id, None, None, what)))
            continue
        first = gone.signed_before(cp, case_id) + 1
        last = signed[0]
        span = f"seq {first}" if first == last else f"seq {first}..{last}"
        if case_id not in rng.heads:
            # Not a re-hash: nothing of the case is left where the checkpoint sealed it.
            if not gone.has_events(case_id):
                what = (
                    f"case deleted: checkpoint #{cp.id} sealed its events {span}, and no event of the case is left"
                    + ("" if gone.has_row(case_id) else " (its case row is gone too)")
                )
            else:
                what = (
                    f"checkpoint #{cp.id} sealed events {span} of this case, and none of them is left in the range"
                    " it sealed (events deleted, or their ids changed)"
                )
            out.append((cp.last_event_id, Problem(case_id, first, None, what)))
            continue
        if rng.heads[case_id][0] != last:
            what = (
                f"chain re-hashed after it was sealed: checkpoint #{cp.id} sealed this case up to seq {last}, but its"
                f" events in that range now end at seq {rng.heads[case_id][0]} (events deleted or inserted)"
            )
            out.append((rng.first_id.get(case_id, cp.last_event_id), Problem(case_id, first, None, what)))
            continue
        span = f"seq {first}" if first == last else f"one of seq {first}..{last}"
        what = (
            f"chain re-hashed after it was sealed: checkpoint #{cp.id} signed a different hash for seq {last};"
            f" the edited event is {span}"
        )
        out.append((rng.first_id.get(case_id, cp.last_event_id), Problem(case_id, first, None, what)))
    if not out and not (set(signed_heads) | set(rng.heads)) & broken:
        what = f"events up to #{cp.last_event_id} do not add up to checkpoint #{cp.id} (sealed log changed)"
        out.append((cp.last_event_id, Problem(None, None, None, what)))
    return out


def report_json(report: Report) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "complete": report.complete,
            "cases": report.cases,
            "events": report.events,
            "checkpoints": report.checkpoints,
            "sealed_events": report.sealed_events,
            "signatures_checked": report.signatures_checked,
            "signatures_unchecked": report.signatures_unchecked,
            "documents": report.documents,
            "unaudited_documents": report.unaudited_documents,
            "blobs_unchecked": report.blobs_unchecked,
            "witnessed_checkpoints": report.witnessed,
            "witness_unchecked": report.witness_unchecked,
            "witness_other_databases": report.witness_other_databases,
            "witness_unreadable": report.witness_unreadable,
            "problems": [str(p) for p in report.problems],
        }
    )
