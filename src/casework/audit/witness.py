"""A copy of every checkpoint outside the database, so that deleting checkpoints does not go unnoticed.

Signed checkpoints catch a re-hashed chain only where a checkpoint still covers it. Someone who can write the
database can delete the newest checkpoints and then rewrite every event after the last one left: the chains link up,
the remaining signatures hold, and the rewritten events merely look not yet sealed. So each checkpoint, once
committed, is also appended to a witness file beside the key (`<key file>.witness`, one JSON line per checkpoint,
fsynced), which the database cannot reach; `verify` then requires every checkpoint the witness saw to be in the
database unchanged.

One key file may serve several databases (PostgreSQL's default key is in the working directory), so each line names
its database by a tag of its location (`database_tag`): lines of other databases are counted, not judged. A database
moved to another path or server gets a new tag, and its earlier lines are then another database's. Lines written
before a PostgreSQL URL's connection-only options (sslmode, connect_timeout, ...) were left out of the tag carry
the tag with them (`legacy_tags`), and are this database's too.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from casework.durable import fsync_directory, make_folder
from casework.store.url import sqlite_file

if TYPE_CHECKING:
    from casework.audit.checkpoints import Checkpoint


def witness_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name + ".witness")


_LOCATION = frozenset({"host", "hostaddr", "port", "dbname", "options", "service"})  # libpq's, in a URL's query


def database_tag(url: str) -> str:
    """Where the database is (file, or server and database and search path), without user or password: 16 hex
    digits of its SHA-256."""
    parsed = make_url(url)
    backend = {"postgres": "postgresql"}.get(parsed.get_backend_name(), parsed.get_backend_name())
    if backend == "sqlite":
        where = f"sqlite:{sqlite_file(parsed).resolve()}"  # the same file however the URL names it
    else:
        # Only the connection parameters that choose the database or its schema: `?sslmode=require` or an
        # application_name names the same database, and a tag that changed with them lost its witnessed checkpoints.
        options = sorted((k, str(v)) for k, v in parsed.query.items() if k in _LOCATION)
        where = _server_where(backend, parsed, options)
    return _tag(where)


# With more connection-only options than this in the URL, only the tags with all of them and with none are tried.
_LEGACY_SUBSETS_UP_TO = 8


def legacy_tags(url: str) -> set[str]:
    """The tags lines written before connection-only options left the tag (casework before 2026-12-07) may carry for
    this database, other than `database_tag(url)`. Such a tag hashed every query parameter of the URL it was written
    through, which verify cannot know: it may be given the URL with more or fewer of those options. So the old tag
    is computed for the location options with every subset of the connection-only ones this URL has (the same
    server, database and search path in each: never another database's). Lines written through options the URL
    given to verify lacks stay unmatched; verify's note on a database the witness does not list says so."""
    parsed = make_url(url)
    backend = {"postgres": "postgresql"}.get(parsed.get_backend_name(), parsed.get_backend_name())
    if backend == "sqlite":
        return set()  # a file's tag never held its URL's options
    items = sorted((k, str(v)) for k, v in parsed.query.items())
    location = [item for item in items if item[0] in _LOCATION]
    connection = [item for item in items if item[0] not in _LOCATION]
    subsets: list[tuple[tuple[str, str], ...]] = [(), tuple(connection)]
    if len(connection) <= _LEGACY_SUBSETS_UP_TO:
        subsets = [chosen for n in range(len(connection) + 1) for chosen in itertools.combinations(connection, n)]
    tags = {_tag(_server_where(backend, parsed, sorted(location + list(chosen)))) for chosen in subsets}
    return tags - {database_tag(url)}


def _server_where(backend: str, parsed: Any, options: list[tuple[str, str]]) -> str:
    port = parsed.port or (5432 if backend == "postgresql" else "")
    return f"{backend}:{parsed.host or ''}:{port}/{parsed.database or ''}?{options}"


def _tag(where: str) -> str:
    return hashlib.sha256(where.encode("utf-8")).hexdigest()[:16]


FIELDS = ("id", "last_event_id", "running_hash", "signature", "public_key")


def record(path: Path, tag: str, *checkpoints: dict[str, Any]) -> None:
    """Append committed checkpoints (their `FIELDS`), one line each, durably, in one write: O_APPEND keeps the lines
    of several processes whole."""
    text = "".join(
        json.dumps({"db": tag, **{k: cp[k] for k in FIELDS}}, separators=(",", ":")) + "\n" for cp in checkpoints
    )
    make_folder(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            text = "\n" + text  # end a line that a crash cut short, or this one would be lost with it
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if not size:
        fsync_directory(path.parent)  # a new file: its name must last as well as its first line


# How far back from its end the witness file is read for the ids of recent checkpoints (`recent_ids`): some
# thousand lines, far more than the checkpoints written while one process commits one and copies it.
TAIL_BYTES = 256 * 1024


def recent_ids(path: Path, tag: str, tail: int = TAIL_BYTES) -> set[int]:
    """The ids of the database `tag`'s checkpoints among the lines in the last `tail` bytes of the witness file
    (empty if there is none)."""
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - tail))
            data = fh.read()
    except FileNotFoundError:
        return set()
    ids: set[int] = set()
    mark = f'"db":"{tag}"'.encode("ascii")
    for raw in data.splitlines():
        if mark not in raw:  # a line cut by the tail, or another database's
            continue
        try:
            ids.add(int(json.loads(raw)["id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return ids


def uncopied(path: Path, tag: str, recent: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Those of the database's `recent` checkpoints (newest last) that the witness file's tail does not hold: a
    process that stopped between committing a checkpoint and copying it (killed, its machine down, the reply to its
    COMMIT lost) left it out, and deleting it would then go unnoticed. Copying a checkpoint that is in the database
    later is as good as copying it at once: the copy is what the database may not lose from here on."""
    recent = list(recent)
    if not recent:
        return []
    have = recent_ids(path, tag)
    return [cp for cp in recent if int(cp["id"]) not in have]


@dataclass
class Witnessed:
    entries: dict[int, dict[str, Any]]  # this database's checkpoints, by id
    other_databases: int  # lines of other databases
    unreadable: int  # lines that are not a whole entry (a write cut short by a crash is the usual one)


def read(path: Path, tag: str, legacy: Collection[str] = ()) -> Witnessed | None:
    """The witness file's entries for the database `tag` (or one of its `legacy` tags); None if there is no witness
    file. `OSError` if it cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    found = Witnessed({}, 0, 0)
    for raw in data.splitlines():
        try:
            entry = json.loads(raw)
            ok = isinstance(entry, dict) and all(k in entry for k in ("db", *FIELDS))
        except ValueError:
            ok = False
        if not ok:
            found.unreadable += 1
        elif entry["db"] != tag and entry["db"] not in legacy:
            found.other_databases += 1
        else:
            found.entries[int(entry["id"])] = entry
    return found


def missing_or_changed(witnessed: Witnessed, stored: Iterable[Checkpoint]) -> list[tuple[int, str]]:
    """(last event id, what) for each witnessed checkpoint that the database no longer holds as it was written.
    `stored` is read once, as it comes (a stream of a large store's checkpoints)."""
    found: dict[int, Checkpoint | None] = {}  # witnessed id -> the stored checkpoint if it differs, else None
    for cp in stored:
        entry = witnessed.entries.get(cp.id)
        if entry is None:
            continue
        same = (cp.last_event_id, cp.running_hash, cp.signature, cp.public_key) == (
            entry["last_event_id"], entry["running_hash"], entry["signature"], entry["public_key"])
        found[cp.id] = None if same else cp
    problems: list[tuple[int, str]] = []
    for cp_id, entry in sorted(witnessed.entries.items()):
        sealed = f"checkpoint #{cp_id} (sealing events up to #{entry['last_event_id']})"
        if cp_id not in found:
            problems.append((int(entry["last_event_id"]), (
                f"{sealed} is in the witness file but not in the database: it was deleted, or the database was "
                "restored from a backup taken before it"
            )))
        elif (changed := found[cp_id]) is not None:
            problems.append((changed.last_event_id, f"{sealed} differs from its copy in the witness file"))
    return problems
