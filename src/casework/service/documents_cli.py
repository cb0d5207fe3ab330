"""`casework case attach|documents|document`: a case's documents from the terminal.

Attaching is one audited change through the case service (`CaseService.add_document`: the bytes in the
content-addressed blob store, a `document_attached` event on the case's log). Reading one back checks its bytes
against the SHA-256 the case recorded: a blob edited or damaged on disk is an error naming the document, never served
as if it were the one attached.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, BinaryIO, NoReturn

import typer

from casework.display import plain, shown
from casework.names import typed
from casework.service.case_cli import CaseArgument, OptionalReasonOption, _optional, _required, changing, fail, reading
from casework.service.mediatype import media_type_problem
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.blobs import (
    CHUNK,
    MAX_DOCUMENT_ENV,
    DocumentLimitSettingError,
    limit_text,
    max_document_bytes,
)
from casework.store.cli import ActorOption, DbOption, clock_text

if TYPE_CHECKING:
    from casework.store import Store
    from casework.store.blobs import BlobStore
    from casework.store.records import DocumentRow

# What a file whose name says nothing of its content is stored as (RFC 2046: arbitrary bytes).
UNKNOWN_MEDIA_TYPE = "application/octet-stream"
PDF_SIGNATURE = b"%PDF-"


def media_type_of(name: str, head: bytes) -> str:
    """The media type to record for a file: by its name's extension, else a PDF by its signature in its first bytes
    `head` (a scan saved without one), else arbitrary bytes."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    if guessed:
        return guessed
    if head.startswith(PDF_SIGNATURE):
        return "application/pdf"
    return UNKNOWN_MEDIA_TYPE


def attach_cmd(
    case_id: CaseArgument,
    file: Annotated[Path, typer.Argument(help="the file to attach (its bytes are stored as they are)")],
    actor: ActorOption,
    name: Annotated[str | None, typer.Option(help="the document's name on the case (default: the file's name); "
                                                  "attaching a name again adds its next version")] = None,
    media_type: Annotated[str | None, typer.Option(help="its media type (default: guessed from the name, else "
                                                        f"{UNKNOWN_MEDIA_TYPE})")] = None,
    reason: OptionalReasonOption = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Attach a file to a case as the next version of its name; the audit trail records who, why, and its SHA-256.

    A suspended case takes it too (its plan stays on hold until `case resume`); an ended case takes none. A
    document may be at most CASEWORK_MAX_DOCUMENT_MB MiB (default 50): a larger one is refused, nothing stored.
    Example: `casework case attach claim-2002 photos/front.jpg --name "damage photo" --as ann`."""
    actor = _required(actor, "--as")
    document = (name if name is not None else file.name).strip()
    if not document:
        raise typer.BadParameter("must not be empty: the document is listed and read back by it",
                                 param_hint="'--name'")
    if media_type is not None:
        media_type = media_type.strip()
        if not media_type:
            raise typer.BadParameter("must not be empty: leave it out to have it guessed", param_hint="'--media-type'")
        if problem := media_type_problem(media_type):  # before the store is opened or the file read
            raise typer.BadParameter(problem, param_hint="'--media-type'")
    try:
        max_document_bytes()  # a bad setting refused before the store is opened or the file read
    except DocumentLimitSettingError as exc:
        fail(str(exc))
    if file.is_dir():
        fail(f"{file} is a folder, not a file")
    try:
        source = file.open("rb")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    with source:
        # Streamed into the blob store, never read whole (a video or a mail archive of gigabytes); the media type
        # is guessed from the first bytes, peeked without consuming them (a pipe cannot seek back).
        try:
            head = source.peek(len(PDF_SIGNATURE))[:len(PDF_SIGNATURE)]
        except OSError as exc:
            fail(f"cannot read {file}: {exc.strerror or exc}")
        kind = media_type if media_type is not None else media_type_of(document, head)
        _attach(case_id, file, document, source, kind, actor, reason, db)


def _attach(case_id: str, file: Path, document: str, source: BinaryIO, kind: str, actor: str, reason: str | None,
            db: str) -> None:
    from casework.service.errors import DocumentTooLarge

    with changing(db, case_id) as service:
        try:
            row = service.add_document(case_id, document, source, media_type=kind, actor=actor,
                                       reason=_optional(reason))
        except DocumentTooLarge as exc:
            fail(f"{file} is larger than {limit_text(exc.limit)}, the most a document may be "
                 f"({MAX_DOCUMENT_ENV}); nothing stored: set {MAX_DOCUMENT_ENV} higher to attach it")
        # Said before the service seals the event as it closes: a checkpoint that fails then leaves the
        # document attached, and the person must not take it as undone and attach it again.
        typer.echo(shown(f"attached {row.name!r} version {row.version} ({row.size:,} bytes, {row.media_type}) "
                         f"to case {case_id} by {actor} (sha256 {row.sha256})"))
        case = service.store.case(case_id)
        if case is not None and case.status == "suspended":
            # The document often ends the wait: whoever attached it is told that the plan waits for them to say so.
            typer.echo(f"note: case {case_id} is still suspended: its plan goes on once it is resumed (`casework "
                       f"case resume {case_id} --as NAME --reason TEXT`)", err=True)


def documents_cmd(case_id: CaseArgument, db: DbOption = DEFAULT_DB) -> None:
    """The case's documents, every version: name, version, size, media type, who attached it and when."""
    from rich.console import Console
    from rich.table import Table

    zone = organisation_zone()
    with reading(db, case_id, "case documents") as store:
        rows = store.documents(case_id)
    if not rows:
        typer.echo(shown(f"no documents on case {case_id}"))
        return
    table = Table(title=f"documents of case {case_id}", title_justify="left")
    # A name is what `case document` reads one by: folded onto more lines in a narrow terminal, never cut short.
    table.add_column("name", overflow="fold")
    for column in ("version", "size", "media type", "who", "when"):
        table.add_column(column)
    for row in rows:
        table.add_row(*map(plain, (row.name, row.version, f"{row.size:,}", row.media_type, row.created_by,
                                   clock_text(row.created_at, zone))))
    Console().print(table)


def document_cmd(
    case_id: CaseArgument,
    name: Annotated[str, typer.Argument(help="the document's name (`casework case documents` lists them)")],
    version: Annotated[int | None, typer.Option(min=1, help="which version (default: the latest)")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", metavar="FILE",
                                               help="where to write it (default: its name, in this folder); "
                                                    "- writes the bytes to standard output")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace FILE if it exists")] = False,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Write a document of the case out, byte for byte, once its bytes match the SHA-256 the case recorded.

    An existing file is not replaced without --force. Example: `casework case document claim-2002 "damage photo"
    --version 1 -o front.jpg`."""
    with reading(db, case_id, "case document") as store:
        row = _version(store, case_id, name, version)
        blobs = store.blobs
    label = f"{row.name!r} version {row.version}"
    if output == "-":
        _stream_out(blobs, row)
        return
    target = Path(output) if output is not None else _default_target(row.name)
    _write(target, blobs, row, force=force)
    typer.echo(shown(f"wrote {label} of case {case_id} ({row.size:,} bytes, {row.media_type}) to {target}"))


def _version(store: Store, case_id: str, name: str, version: int | None) -> DocumentRow:
    stored = store.documents(case_id)
    # Names are kept in NFC (`casework.names`), so "café" finds café however it is typed; one stored before, in
    # another form, still by its own spelling first.
    rows = [row for row in stored if row.name == name] or [row for row in stored if typed(row.name) == typed(name)]
    if not rows:
        fail(f"no document {name!r} on case {case_id} (`casework case documents {case_id}` lists them)")
    if version is None:
        return max(rows, key=lambda row: row.version)
    for row in rows:
        if row.version == version:
            return row
    fail(f"document {name!r} of case {case_id} has no version {version} (it has "
         f"{', '.join(str(row.version) for row in rows)})")


def _where(row: DocumentRow) -> str:
    return f"document {row.name!r} version {row.version} of case {row.case_id}"


def _open_blob(blobs: BlobStore, row: DocumentRow) -> BinaryIO:
    path = blobs.path_of(row.sha256)
    try:
        return path.open("rb")
    except FileNotFoundError:
        fail(f"{_where(row)}: its bytes are missing from the blob store ({path}); nothing written")
    except OSError as exc:
        fail(f"{_where(row)}: cannot read its bytes at {path}: {exc.strerror or exc}; nothing written")


def _copy(blob: BinaryIO, out: BinaryIO | None, blobs: BlobStore, row: DocumentRow,
          unread: str = "nothing written") -> bool:
    """Copy the blob to `out` (or only read it, with None) a chunk at a time, and say whether its bytes are the
    ones whose SHA-256 the case recorded: the blob folder is plain files, which a person, a restore or a disk can
    change under the database. An error reading it fails naming the document (and `unread`: what became of the
    output); one writing `out` is raised, for the caller to name its output."""
    hasher = hashlib.sha256()
    while True:
        try:
            chunk = blob.read(CHUNK)
        except OSError as exc:
            fail(f"{_where(row)}: cannot read its bytes at {blobs.path_of(row.sha256)}: {exc.strerror or exc}; "
                 f"{unread}")
        if not chunk:
            return hasher.hexdigest() == row.sha256
        hasher.update(chunk)
        if out is not None:
            out.write(chunk)


def _not_intact(blobs: BlobStore, row: DocumentRow) -> NoReturn:
    fail(f"{_where(row)}: its stored bytes ({blobs.path_of(row.sha256)}) no longer match the SHA-256 recorded when it "
         "was attached (edited or damaged on disk); nothing written")


def _stream_out(blobs: BlobStore, row: DocumentRow) -> None:
    """The document's bytes to standard output, once read through and checked: what has gone out cannot be taken
    back. Read from the one open file, twice: a blob replaced meanwhile is not what is sent."""
    from casework.outstream import binary_stdout

    with _open_blob(blobs, row) as blob:
        if not _copy(blob, None, blobs, row):
            _not_intact(blobs, row)
        blob.seek(0)
        try:
            with binary_stdout() as out:
                intact = _copy(blob, out, blobs, row, unread="what was written is not the whole document")
        except BrokenPipeError:
            raise  # the reader stopped reading (`| head`): not an error to report (casework.cli)
        except OSError as exc:
            fail(f"cannot write standard output: {exc.strerror or exc}; what was written is not the whole "
                 f"{_where(row)}")
        if not intact:
            # Edited in place between the check and the copy: the bytes are out, but must not pass for the document.
            fail(f"{_where(row)}: its stored bytes ({blobs.path_of(row.sha256)}) changed while being written out; "
                 "what was written is not the document")


def _default_target(name: str) -> Path:
    """The file a document is written to when no -o names one: its name in this folder, if that is a plain file
    name (a name like `../x` or `a/b` must not write outside it)."""
    if name in (".", "..") or os.sep in name or (os.altsep and os.altsep in name) or "\0" in name:
        fail(f"the document's name {name!r} is not a plain file name: give -o FILE")
    return Path(name)


def _write(target: Path, blobs: BlobStore, row: DocumentRow, *, force: bool) -> None:
    """Write the document to `target` whole or not at all: copied a chunk at a time into a temporary file beside it
    while its SHA-256 is checked, then renamed, so that a full disk or a blob changed on disk leaves no half or wrong
    document and, with --force, the file it replaces intact."""
    if target.is_dir():
        fail(f"{target} is a folder: give a file name")
    if target.exists() and not force:
        fail(f"{target} exists: give --force to replace it, or another -o FILE")
    with _open_blob(blobs, row) as blob:
        folder = target.parent
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as exc:
            fail(f"cannot write in {folder}: {exc.strerror or exc}")
        try:
            with os.fdopen(fd, "wb") as fh:
                intact = _copy(blob, fh, blobs, row)
            if not intact:
                _not_intact(blobs, row)
            if force:
                os.replace(tmp, target)
            else:
                # A link fails if the name was taken meanwhile, where a rename would replace what someone just wrote.
                os.link(tmp, target)
        except FileExistsError:
            fail(f"{target} exists: give --force to replace it, or another -o FILE")
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def register(case_app: typer.Typer) -> None:
    case_app.command("attach")(attach_cmd)
    case_app.command("documents")(documents_cmd)
    case_app.command("document")(document_cmd)
