"""Signed checkpoints over the global event sequence.

A checkpoint signs (last global event id, running hash over every event hash in global order, digest of the chain
heads of the cases touched since the previous checkpoint) with an Ed25519 key kept outside the database. Someone who
can write the database can re-hash an edited chain so that it links up again, but cannot re-sign the checkpoints
that covered the old hashes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError

from casework.audit import witness
from casework.audit.hashing import GENESIS, canonical_json, running_hash
from casework.durable import fsync_directory, make_folder
from casework.store import Store
from casework.store import schema as t

logger = logging.getLogger(__name__)


class AuditKeyError(ValueError):
    """An audit key file or value that cannot be read as an Ed25519 key (missing, unreadable, malformed)."""


class CheckpointFailed(RuntimeError):
    """The checkpoint a closing service owed could not be written; its events stay in the log, unsealed until the
    next checkpoint (any process's, or `casework audit checkpoint`) seals them."""


# On PostgreSQL a checkpoint locks the events table against appends, and waits for every transaction appending to
# it. Writers that come meanwhile queue behind its lock request: waiting the whole lock_timeout (30 s) behind a long
# import batch held every command back that long (`bench/checkpoint_wait.py`: 1.6 s behind a batch held 2 s).
# A checkpoint is not urgent and commands are: it asks for the lock for LOCK_TRY_MS at a time, steps aside (the
# queued writers go on), and asks again, for up to LOCK_PATIENCE seconds in all. Appends that overlap back to back
# (imports, a busy server) never leave the table free for a moment, and a checkpoint that only ever stepped aside
# failed each time, leaving the log unsealed as long as they lasted: after LOCK_POLITE seconds it keeps its place
# in the lock queue for the rest of its patience, so the appends under way finish, the ones that come wait the
# few milliseconds it needs, and it is written.
LOCK_TRY_MS = 50
LOCK_POLITE = 5.0
LOCK_PATIENCE = 30.0
_LOCK_NOT_AVAILABLE = "55P03"

# Each checkpoint looks this far back for checkpoints that were committed but never copied to the witness file.
RECOPY = 32


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The signing key; created on first use, readable by its owner only (0600)."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Written whole to a temporary file, then linked into place: a key file is either absent or complete. Written
        # in place, a full disk (or a crash) left a partial key that every later checkpoint refused to read.
        try:
            make_folder(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(pem)
                    fh.flush()
                    os.fsync(fh.fileno())
                try:
                    os.link(tmp, path)  # unlike a rename, refuses to replace a key another process created meanwhile
                except FileExistsError:  # another process created it first: use theirs
                    pass
                else:
                    fsync_directory(path.parent)
                    return key
            finally:
                os.unlink(tmp)
        except OSError as exc:  # a write names no file: say which one could not be written
            raise AuditKeyError(f"cannot write the key file {path}: {exc.strerror or exc}") from exc
    loaded = _load_pem(path, private=True)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise AuditKeyError(f"{path} does not hold an Ed25519 private key")
    _warn_if_others_can_read(path)
    return loaded


_WARNED: set[Path] = set()


def _warn_if_others_can_read(path: Path) -> None:
    """A warning (once per file and process) for a key file that others may read: whoever reads it can sign forged
    checkpoints over a rewritten log. Not refused: the checkpoints that a refusal would stop are the log's seal."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o077 and path not in _WARNED:
        _WARNED.add(path)
        logger.warning("the audit key %s can be read by other users (mode %03o): whoever reads it can sign forged "
                       "checkpoints; make it readable by its owner only (chmod 600)", path, mode & 0o777)


def _signing_key(path: Path, sealed_by: str | None) -> Ed25519PrivateKey:
    """The key to sign the next checkpoint with. `sealed_by` is the public key (hex) of the database's last
    checkpoint: a database already sealed by a key gets no new one when the key file is missing (moved, not
    restored with a backup, or a PostgreSQL store's default path read from another working folder), and is not
    signed by another key: every earlier checkpoint would then fail `audit verify` with the only key left."""
    if sealed_by is not None and not path.exists():
        raise AuditKeyError(
            f"no audit key at {path}, but this database's checkpoints were signed by the key of fingerprint "
            f"{_fingerprint_hex(sealed_by)}: restore that key file there or point CASEWORK_AUDIT_KEY at it (a new "
            "key would make every earlier checkpoint fail verification); nothing was sealed"
        )
    key = load_or_create_key(path)
    _check_same_key(key, sealed_by, path)
    return key


def _check_same_key(key: Ed25519PrivateKey, sealed_by: str | None, path: Path | None) -> None:
    if sealed_by is not None and public_hex(key) != sealed_by:
        where = f" at {path}" if path is not None else ""
        raise AuditKeyError(
            f"the audit key{where} (fingerprint {fingerprint(key)}) is not the key that signed this database's "
            f"checkpoints (fingerprint {_fingerprint_hex(sealed_by)}): point CASEWORK_AUDIT_KEY at that key; "
            "nothing was sealed"
        )


def signing_key(store: Store) -> Ed25519PrivateKey:
    """The store's signing key, checked against the key that signed its last checkpoint (see `_signing_key`)."""
    return _signing_key(store.audit_key_path, _sealed_by(store))


def check_signing_key(store: Store) -> None:
    """Raise `AuditKeyError` if the next checkpoint could not be signed (the key file unreadable, not a key, not the
    key that sealed the database, or missing where the database was sealed); creates no key file. So that
    `audit checkpoint` run on a schedule reports a broken key while there is nothing to seal yet, not at the first
    event after it."""
    sealed_by = _sealed_by(store)
    if sealed_by is not None or store.audit_key_path.exists():
        _signing_key(store.audit_key_path, sealed_by)


def _sealed_by(store: Store) -> str | None:
    """The public key (hex) that signed the store's last checkpoint; None before the first."""
    with store.read() as conn:
        sealed_by = conn.execute(
            select(t.checkpoints.c.public_key).order_by(t.checkpoints.c.last_event_id.desc()).limit(1)
        ).scalar()
    return None if sealed_by is None else str(sealed_by)


def _fingerprint_hex(public: str) -> str:
    return hashlib.sha256(bytes.fromhex(public)).hexdigest()[:16]


def _load_pem(path: Path, *, private: bool) -> object:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditKeyError(f"cannot read the key file {path}: {exc.strerror or exc}") from exc
    try:
        if private:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AuditKeyError(f"{path} is not a PEM key file of an Ed25519 key") from exc


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of the SHA-256 of its 32 bytes."""
    return hashlib.sha256(bytes.fromhex(public_hex(key))).hexdigest()[:16]


def is_hex_key(value: str) -> bool:
    """Whether a key given on the command line is 64 hex digits (else it names a key file)."""
    return len(value) == 64 and all(c in "0123456789abcdefABCDEF" for c in value)


def parse_public_key(value: str) -> Ed25519PublicKey:
    """A public key given as 64 hex digits, or as a file holding a PEM public or private key; `AuditKeyError` if it
    is neither."""
    if is_hex_key(value):
        try:
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(value))
        except ValueError as exc:
            raise AuditKeyError(f"{value} is not an Ed25519 public key") from exc
    return load_public_key(Path(value))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public half of the key in a PEM file holding an Ed25519 public or private key."""
    try:
        head = path.read_bytes()[:4096]
    except OSError as exc:
        raise AuditKeyError(f"cannot read the key file {path}: {exc.strerror or exc}") from exc
    if b"PRIVATE KEY" in head:
        private = _load_pem(path, private=True)
        if isinstance(private, Ed25519PrivateKey):
            return private.public_key()
    else:
        public = _load_pem(path, private=False)
        if isinstance(public, Ed25519PublicKey):
            return public
    raise AuditKeyError(f"{path} does not hold an Ed25519 key")


def message(last_event_id: int, running: str, heads_json: str) -> bytes:
    heads_digest = hashlib.sha256(heads_json.encode("utf-8")).hexdigest()
    return f"casework-checkpoint\n{last_event_id}\n{running}\n{heads_digest}".encode("ascii")


@dataclass(frozen=True)
class Checkpoint:
    id: int
    last_event_id: int
    running_hash: str
    heads: dict[str, list[Any]]
    heads_json: str
    signature: str
    public_key: str


def checkpoints(conn: Connection) -> list[Checkpoint]:
    return list(iter_checkpoints(conn))


def iter_checkpoints(conn: Connection, *, heads: bool = True) -> Generator[Checkpoint, None, None]:
    """The checkpoints in the order they seal the log, streamed: an import seals each batch of 500 cases, so
    together their signed heads name every imported case, more than a verify run of a large store should hold.
    `heads=False` leaves the signed heads unread (`heads` empty, `heads_json` "")."""
    c = t.checkpoints.c
    columns = [c.id, c.last_event_id, c.running_hash, c.signature, c.public_key] + ([c.heads] if heads else [])
    q = select(*columns).order_by(c.last_event_id, c.id)
    result = conn.execute(q.execution_options(stream_results=True, yield_per=100))
    try:
        for r in result:
            yield Checkpoint(
                id=r.id,
                last_event_id=r.last_event_id,
                running_hash=r.running_hash,
                heads=json.loads(r.heads) if heads else {},
                heads_json=r.heads if heads else "",
                signature=r.signature,
                public_key=r.public_key,
            )
    finally:
        result.close()  # on PostgreSQL, a server-side cursor in the caller's transaction


def write_checkpoint(store: Store, key: Ed25519PrivateKey | None = None) -> int | None:
    """Seal every event written since the last checkpoint; returns the checkpoint id (None if nothing new).

    Without `key`, the store's key file is read, or created if there is none, but only once there is something to
    sign: a key minted for nothing would later be taken for the database's key by `verify`."""

    def work(lock_ms: int, conn: Connection) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        if conn.dialect.name == "postgresql":
            # Waits for in-flight appends and holds new ones back, so no lower event id can commit after we
            # have read past it: the running hash covers a gap-free prefix of the global sequence.
            conn.execute(text(f"SET LOCAL lock_timeout = {lock_ms}"))
            conn.execute(text("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE"))
        # On the DBAPI cursor, like the appends it seals: building SQLAlchemy statements and rows cost more than
        # the hashing, and a checkpoint is written every 1,000 events. It reads every event since the last one.
        # Imported here: casework.store.writes imports the audit package (its hashing), which imports this module.
        from casework.store.writes import db_time

        dbapi: Any = conn.connection.driver_connection
        mark = "%s" if conn.dialect.name == "postgresql" else "?"
        cur = dbapi.cursor()
        try:
            cur.execute(
                "SELECT id, last_event_id, running_hash, signature, public_key FROM checkpoints "
                f"ORDER BY last_event_id DESC LIMIT {RECOPY}"
            )
            recent = [dict(zip(witness.FIELDS, row, strict=True)) for row in reversed(cur.fetchall())]
            last = recent[-1] if recent else None
            last_id, running = (int(last["last_event_id"]), last["running_hash"]) if last else (0, GENESIS)
            sealed_by = last["public_key"] if last else None
            cur.execute(f"SELECT id, case_id, seq, hash FROM events WHERE id > {mark} ORDER BY id", (last_id,))
            heads: dict[str, list[Any]] = {}
            end = last_id
            while rows := cur.fetchmany(10_000):  # in slices: a checkpoint may seal millions of imported events
                for _id, case_id, seq, digest in rows:
                    running = running_hash(running, digest)
                    heads[case_id] = [seq, digest]
                end = int(rows[-1][0])
            if end == last_id:
                return recent, None
            heads_json = canonical_json(heads)
            if key is not None:
                _check_same_key(key, sealed_by, None)
            signer = key or _signing_key(store.audit_key_path, sealed_by)
            signature = signer.sign(message(end, running, heads_json)).hex()
            now = datetime.now(UTC)
            public = public_hex(signer)
            cur.execute(
                "INSERT INTO checkpoints (last_event_id, running_hash, heads, signature, public_key, created_at) "
                f"VALUES ({', '.join([mark] * 6)}) RETURNING id",
                (end, running, heads_json, signature, public, db_time(conn, now)),
            )
            return recent, {"id": int(cur.fetchone()[0]), "last_event_id": end, "running_hash": running,
                            "signature": signature, "public_key": public}
        finally:
            cur.close()

    recent, written = _write_patiently(store, work)
    path = witness.witness_path(store.audit_key_path)
    # Checkpoints committed but never copied are copied now, before this one, so the file keeps the log's order.
    # With nothing new to seal, only where the key is: a witness file beside no key would be taken for the key's.
    copies = [] if written is None and not store.audit_key_path.exists() else [
        *witness.uncopied(path, witness.database_tag(store.url), recent), *([written] if written else [])]
    if copies:
        try:
            witness.record(path, witness.database_tag(store.url), *copies)
        except OSError:
            # The checkpoints stand (committed); only their copies are missing, so deleting them would go unnoticed
            # until a later checkpoint copies them.
            logger.exception("casework: audit checkpoints %s could not be copied to the witness file",
                             ", ".join(f"#{cp['id']}" for cp in copies))
    return int(written["id"]) if written is not None else None


def _write_patiently(store: Store, work: Callable[[int, Connection], Any]) -> Any:
    """`store.write(work)`, asking again while the events table is locked by appends (see `LOCK_TRY_MS`), at last
    waiting in line (`LOCK_POLITE`), and once more on a fresh connection if the connection was lost: a checkpoint
    seals from the last one it reads under the lock, so writing it again cannot seal a range twice."""
    start = time.monotonic()
    deadline = start + LOCK_PATIENCE
    pause, lost = 0.01, False
    while True:
        now = time.monotonic()
        lock_ms = LOCK_TRY_MS if now < start + LOCK_POLITE else max(LOCK_TRY_MS, int((deadline - now) * 1000))
        try:
            return store.write(functools.partial(work, lock_ms))
        except DBAPIError as exc:
            if exc.connection_invalidated and not lost:
                lost = True
                continue
            if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


class Checkpointer:
    """Writes a checkpoint after every `every_events` events or `every_seconds` seconds, whichever comes first.

    The count is checked as events are noted; the time by a timer armed when the first unsealed event is noted, so
    a burst of events followed by silence is still sealed `every_seconds` later.
    """

    def __init__(self, store: Store, *, every_events: int = 1000, every_seconds: float = 60.0) -> None:
        self.store = store
        self.every_events = every_events
        self.every_seconds = every_seconds
        self._pending = 0
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one checkpoint at a time from this process
        self._key: Ed25519PrivateKey | None = None
        self._timer: threading.Timer | None = None
        self._closed = False

    def note(self, n_events: int) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending += n_events
            if self._pending < self.every_events:
                if self._timer is None:
                    timer = threading.Timer(self.every_seconds, self._on_timer)
                    timer.args = (timer,)
                    timer.daemon = True  # a pending checkpoint must not keep the process alive
                    self._timer = timer
                    timer.start()
                return
            self._reset()
        self.flush()

    def flush(self) -> int | None:
        with self._flushing:
            if self._key is None:
                self._key = signing_key(self.store)
            return write_checkpoint(self.store, self._key)

    def close(self) -> None:
        """Stop the timer, sealing what it was waiting to seal (a graceful shutdown leaves nothing unsealed)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = self._pending
            self._reset()
        if pending and not self.store.closed:
            try:
                self.flush()
            except (DBAPIError, OSError) as exc:
                reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
                raise CheckpointFailed(
                    f"the audit checkpoint owed at close could not be written ({reason}): the {pending} events this "
                    "service wrote since its last one stay unsealed until the next checkpoint seals them (`casework "
                    "audit checkpoint`, or the next service's)"
                ) from exc

    def _reset(self) -> None:
        self._pending = 0
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self, timer: threading.Timer) -> None:
        with self._lock:
            if self._closed or self.store.closed or self._timer is not timer or self._pending == 0:
                return
            self._pending = 0
            self._timer = None
        try:
            self.flush()
        except Exception:  # the next checkpoint seals these events too; a timer thread has no caller to tell
            logger.exception("casework: writing a timed audit checkpoint failed")
