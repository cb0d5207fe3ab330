"""Intake extraction: text from uploaded documents, fields found by the case type's patterns, filled into the case.

The result is a proposal, not a change: :func:`fill_command` builds a ``SetVariables`` command whose reason names
the source of every value (document, page, the matched text), so the audit trail shows where each value came from.
A value a person already entered is never overwritten unless the caller names that field in ``overwrite``; a
disagreement is reported instead, so the person can decide.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import datetime as dt
import io
import logging
import re
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # not needed to read a document's text, which every attach does (`casework.insight.doctext`)
    import regex

    from casework.engine import commands
    from casework.insight.casetype import CaseType, PatternSpec

# The version of what `read_content` gives for given bytes. Texts are stored under it (`casework.insight.doctext`),
# and those of another version are read again: raise it when a change here changes the pages, notes or errors that
# some bytes give (a limit, the decoding, pypdf's configuration), or `doctext.INDEX_BYTES` changes. The older texts
# stay until `casework suggest index-documents --prune` removes them.
TEXT_VERSION: Final = 1

__all__ = [
    "ContentText",
    "DocumentText",
    "Extracted",
    "ExtractionError",
    "ExtractionResult",
    "IntakePlan",
    "as_document",
    "convert",
    "extract_fields",
    "fill_command",
    "has_pdf_objects",
    "pdf_pages",
    "read_content",
    "read_document",
    "reads_as_pdf",
    "said_pdf",
]

CONTEXT_CHARS: Final = 40  # characters shown either side of a match, so a person can check it in place
# Pages of a PDF read for intake (a 6 MB file of 20,000 one-line pages took 15 s to read whole): forms and letters
# are far shorter, and an upload must not hold a worker for minutes.
MAX_PDF_PAGES: Final = 500
# A budget for reading one PDF, over all its pages and the forms they draw; pages past it are counted as not read, as
# pages past MAX_PDF_PAGES are. Pages can share one content stream, and a page can draw one form many times: a 6 KB
# file of three pages sharing 2 MB of text operations took 18 s to read (500 such pages: 50 minutes). Operations are
# counted as they are read; bytes (decoded, a page's content and each form it holds, and each form again for every
# time it is drawn) before a stream is parsed, since parsing is most of the cost: one page of 4 MB took 22 s, and
# 75 KB of zlib holds 75 MB.
MAX_PDF_OPERATIONS: Final = 500_000
MAX_PDF_CONTENT_BYTES: Final = 2_000_000
# The most one stream of a PDF may decompress to while it is read for intake (pypdf's own bound is 75 MB: a 170 KB
# file whose page decompressed to 60 MB peaked at 134 MB, though the content budget above then read none of it). A
# page's text needs far less, and images, the large streams of a scan, are not decompressed to read text.
MAX_PDF_STREAM_BYTES: Final = 16_000_000
# Time reading one PDF may take, past which the pages after the one being read count as not read: what pypdf does
# again for every page has more forms than the budgets above count (a page naming 5,000 fonts took 0.5 s, each of
# 500 such pages sharing 66 KB; a font's width array of 40,000 entries 0.18 s a page), and this bounds them all. 500
# plain pages take about 3 s.
PDF_SECONDS: Final = 30.0
# Pages a PDF's page tree may hold: pypdf reads every page object to find the first (its bound is 100,000), and a
# file of 40,000 one-line pages (11 MB) took 7.9 s and 240 MB before the first of them was read. A form is not that.
MAX_PDF_TREE_ENTRIES: Final = 10_000
# Characters of one document searched: a text file of 43 MB (well within the size a document may have) took 6 s and
# held its text in memory several times over, and every pattern ran out of its time on it. A form or a letter is a
# few thousand characters, 500 full pages about a million.
MAX_TEXT_CHARS: Final = 2_000_000
# Bytes of a text file decoded: enough for MAX_TEXT_CHARS characters in any encoding (4 bytes is the most one takes,
# in UTF-8 or UTF-32). The text of a file longer than this is the text of its first TEXT_HEAD_BYTES + 1 bytes (the
# one more says bytes were left), which is how `casework.insight.doctext` reads one too large to hold whole.
TEXT_HEAD_BYTES: Final = 4 * MAX_TEXT_CHARS
# Where a PDF's signature may stand: readers accept other bytes before it within the first 1,024.
PDF_HEADER_WINDOW: Final = 1024
PDF_SIGNATURE: Final = b"%PDF-"
# Bytes that only a PDF's objects hold: a file that has them but lost its signature (damaged at its start) is read as
# a PDF if its name or type says it is one.
PDF_OBJECT_MARKERS: Final = (b"endobj", b"startxref")
# Share of control characters (other than tabs, line and page breaks) past which decoded bytes are taken for binary
# content rather than text: none in text, about one in ten in compressed or random bytes.
MAX_CONTROL_SHARE: Final = 0.05
# Time one pattern may spend on one document. Patterns come from case types and text from uploads, and a pattern that
# backtracks badly can take minutes on a few KB; a sound one takes milliseconds on a whole 500-page PDF.
PATTERN_SECONDS: Final = 1.0
# Time all patterns together may spend on the documents of one extraction: a second per pattern and document let a
# case type of 20 bad patterns hold a worker for 100 s on 5 uploads. Sound patterns use milliseconds of it.
EXTRACTION_SECONDS: Final = 10.0
# How much of a captured text a value's source quotes.
SOURCE_CHARS: Final = 80


class ExtractionError(ValueError):
    """A document's text could not be read."""


@dataclass(frozen=True)
class DocumentText:
    """The text of one document, page by page (a text file is one page)."""

    name: str
    kind: str
    pages: tuple[str, ...]
    unread_pages: int = 0  # pages not read: past MAX_PDF_PAGES, or past a budget
    unread_reason: str = ""  # why they were not read
    notes: tuple[str, ...] = ()  # what else a person should know of how it was read: cut short, no text, ...


@dataclass(frozen=True)
class Extracted:
    """One value found in a document, with where it was found."""

    field: str
    value: Any
    document: str
    page: int  # 1-based
    span: tuple[int, int]  # character offsets of the captured text within the page
    text: str  # the captured text as it stands in the document
    context: str  # the surrounding text, for showing the source

    @property
    def source(self) -> str:
        # The reason of the fill command quotes it, and a reason is written on every event of the command: a line of
        # an upload captured whole (a name pattern reads to the end of its line) must not put megabytes there.
        if len(self.text) <= SOURCE_CHARS:
            return f"{self.document} p.{self.page}: {self.text!r}"
        return f"{self.document} p.{self.page}: {self.text[:SOURCE_CHARS]!r}... ({len(self.text):,} characters)"


@dataclass(frozen=True)
class ExtractionResult:
    values: dict[str, Extracted] = field(default_factory=dict)  # field -> first value found
    alternatives: list[Extracted] = field(default_factory=list)  # other differing values for the same fields
    problems: list[str] = field(default_factory=list)  # matches whose text did not convert to the field's type
    # (field, value) of `values` and `alternatives`: a pattern matching every word of a long document compared each
    # match with every value found before it, which spent its time budget on that (7,800 of 60,000 words searched).
    found: set[tuple[str, Any]] = field(default_factory=set, repr=False, compare=False)


@dataclass(frozen=True)
class IntakePlan:
    """What filling the case would do: the command (None if nothing to fill) and what was left as it was."""

    command: commands.SetVariables | None
    filled: list[Extracted]
    kept: list[tuple[Extracted, Any]]  # (found, the value the case already has) where they differ
    problems: list[str]


# -- reading ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContentText:
    """What a document's bytes give, whatever it is named: the part of its `DocumentText` that can be stored once for
    the bytes (`casework.insight.doctext`)."""

    form: str  # pdf | text | empty
    pages: tuple[str, ...]
    unread_pages: int = 0
    unread_reason: str = ""
    notes: tuple[str, ...] = ()
    timed_out: bool = False  # a PDF's reading stopped at the time it was given (`seconds`)


def said_pdf(name: str, media_type: str | None) -> bool:
    """Whether the document's name or media type says it is a PDF."""
    return media_type == "application/pdf" or name.lower().endswith(".pdf")


def reads_as_pdf(data: bytes, said: bool) -> bool:
    """Whether `read_document` reads these bytes as a PDF: by the signature, or by their objects if the name or type
    says PDF (a file damaged at its start)."""
    return PDF_SIGNATURE in data[:PDF_HEADER_WINDOW] or (said and has_pdf_objects(data))


def has_pdf_objects(data: bytes) -> bool:
    """Whether the bytes hold a PDF object's marker (`PDF_OBJECT_MARKERS`)."""
    return any(marker in data for marker in PDF_OBJECT_MARKERS)


def read_document(
    name: str, data: bytes, kind: str, media_type: str | None = None, *, max_pages: int | None = None,
    seconds: float | None = None,
) -> DocumentText:
    """The text of a PDF or a plain text file, as its bytes show: a PDF by its signature, or by its objects if it is
    named or typed as one (damaged at its start); anything else is read as text, whatever its name says. At most
    MAX_TEXT_CHARS characters are kept; the result's notes say what was cut, or that there was no text.
    `ExtractionError`, saying why, for a file that cannot be read (damaged, encrypted, binary). `max_pages` and
    `seconds` bound how much of a PDF is read (default MAX_PDF_PAGES, PDF_SECONDS: similar cases need its first
    pages, intake the whole form)."""
    said = said_pdf(name, media_type)
    content = read_content(data, reads_as_pdf(data, said), max_pages=max_pages, seconds=seconds)
    return as_document(content, name, kind, said)


def as_document(content: ContentText, name: str, kind: str, said: bool) -> DocumentText:
    """The document's text from what its bytes gave, with what its name (`said`: it says PDF) adds."""
    notes = content.notes
    if content.form == "text" and said:
        notes = ("it is named or typed as a PDF but is none (no %PDF- signature): it was read as text", *notes)
    return DocumentText(name, kind, content.pages, content.unread_pages, content.unread_reason, notes)


def read_content(data: bytes, pdf: bool, *, max_pages: int | None = None, seconds: float | None = None) -> ContentText:
    """`read_document` of the bytes, as a PDF or as text (`reads_as_pdf`), without what the name adds."""
    if not data:
        return ContentText("empty", ("",), notes=("it is empty (0 bytes): there is nothing to search",))
    notes: list[str] = []
    unread, why, timed_out = 0, "", False
    if pdf:
        seconds = PDF_SECONDS if seconds is None else seconds
        read, total, why = _read_pdf(data, MAX_PDF_PAGES if max_pages is None else max_pages, seconds)
        pages, cut = _within_text_budget([_normal(p) for p in read])
        unread = total - len(pages)
        timed_out = why == _timed_out(seconds)
    else:
        text, cut_bytes = _decode_head(data)
        pages, cut = _within_text_budget([_normal(text)])
        cut = cut or cut_bytes
    if cut:
        notes.append(f"only its first {MAX_TEXT_CHARS:,} characters were searched, the most intake searches in one "
                     "document")
    if (pages or not unread) and not any(page.strip() for page in pages):  # none read: the unread pages are said
        notes.append("no text was found in " + ("the pages read" if unread else "it")
                     + (" (a scanned page has none without a text layer)" if pdf else ""))
    return ContentText("pdf" if pdf else "text", tuple(pages), unread, why if unread else "", tuple(notes),
                       timed_out and unread > 0)


def _timed_out(seconds: float) -> str:
    return f"reading it took more than the {seconds:g} s given to one PDF"


def _normal(text: str) -> str:
    # Patterns end a line at "\n" (`$`, `[^\n]`): with CR-only endings a whole file is one line, and CRLF leaves
    # a "\r" in the captured text. A NUL is no text (padding, a field a program left blank), and one inside a
    # word hid it from every pattern.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (a damaged font's character map gives one) is no character: no terminal shows it, and no
        # database stores it (the text is kept, `casework.insight.doctext`).
        text = _SURROGATE.sub("\ufffd", text)
    return text


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _within_text_budget(pages: list[str]) -> tuple[list[str], bool]:
    """The pages up to MAX_TEXT_CHARS characters in all (the last one cut there), and whether anything was cut."""
    room = MAX_TEXT_CHARS
    for i, page in enumerate(pages):
        if len(page) > room:
            return [*pages[:i], page[:room]] if room else pages[:i], True
        room -= len(page)
    return pages, False


def pdf_pages(data: bytes, limit: int | None = None) -> list[str]:
    """Text of each page of a PDF (at most `limit` pages), via pypdf. Scanned pages without a text layer give empty
    text."""
    return _read_pdf(data, limit)[0]


def _read_pdf(data: bytes, limit: int | None, seconds: float | None = None) -> tuple[list[str], int, str]:
    """(text of the first pages, how many pages the PDF has, why the rest were not read: "" if they all were): up to
    `limit` pages, and no further than the budgets of content and of text; `ExtractionError` if it cannot be read."""
    from pypdf.errors import LimitReachedError  # imported here: reading plain text should not need the PDF library

    try:
        with _pdf_limits():
            try:
                return _pdf_text(data, limit, seconds)
            except (ExtractionError, LimitReachedError):
                raise
            except Exception:
                if b"%%EOF" in data[-PDF_HEADER_WINDOW:]:
                    raise
                # Cut short after its cross-reference table (a download stopped in its last bytes): pypdf then
                # fails on a file it can read with the end marker back. Anything cut earlier stays an error.
                return _pdf_text(data + b"\n%%EOF\n", limit, seconds)
    except ExtractionError:
        raise
    except LimitReachedError as exc:
        raise ExtractionError(
            f"cannot read PDF: it goes past what intake reads of one PDF: {exc} (a stream may decompress to at most "
            f"{MAX_PDF_STREAM_BYTES:,} bytes, and the file hold at most {MAX_PDF_TREE_ENTRIES:,} pages)"
        ) from exc
    except Exception as exc:
        # An uploaded file is untrusted, and on damaged or hostile input pypdf raises well beyond its own error
        # classes (fuzzing a one-page PDF: NotImplementedError, AttributeError); for intake every one of them
        # means the same thing.
        state = ("damaged, or made in a way the PDF reader cannot follow" if b"%%EOF" in data[-PDF_HEADER_WINDOW:]
                 else "cut short or damaged (it does not end with %%EOF)")
        raise ExtractionError(f"cannot read PDF: it is {state}: {type(exc).__name__}: {exc}") from exc


@contextlib.contextmanager
def _pdf_limits() -> Iterator[None]:
    """pypdf's decompression bounds lowered to MAX_PDF_STREAM_BYTES, and its page tree's to MAX_PDF_TREE_ENTRIES,
    while a PDF is read for intake (in this context only: pypdf keeps them in a context variable), where the installed
    pypdf can (`apply_configuration`, from pypdf 6.18; an older one keeps its own bounds of 75 MB and 100,000 pages)."""
    import pypdf

    with _quiet_reader():
        apply = getattr(pypdf, "apply_configuration", None)
        configuration = getattr(pypdf, "Configuration", None)
        if apply is None or configuration is None:
            yield
            return
        known = {f.name for f in dataclasses.fields(configuration)}
        bounds = {name: MAX_PDF_STREAM_BYTES for name in (
            "zlib_maximum_output_length", "lzw_maximum_output_length", "run_length_maximum_output_length",
            "brotli_maximum_output_length", "array_based_stream_maximum_output_length",
        )} | {"page_tree_maximum_entries": MAX_PDF_TREE_ENTRIES}
        bounds = {name: bound for name, bound in bounds.items() if name in known}
        with apply(**bounds):
            yield


@contextlib.contextmanager
def _quiet_reader() -> Iterator[None]:
    """pypdf's warnings on damaged files (\"EOF marker not found\", \"incorrect startxref\") kept off the terminal:
    they went to standard error of every command that read such an upload, between the lines of a table. What is
    wrong with a file is said in the result (`ExtractionError`, `DocumentText.notes`); errors still go through."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _pdf_text(data: bytes, limit: int | None, seconds: float | None) -> tuple[list[str], int, str]:
    from pypdf import PasswordType, PdfReader

    operations, content_bytes = MAX_PDF_OPERATIONS, MAX_PDF_CONTENT_BYTES
    forms: dict[str, int] = {}

    def count_operation(operator: Any, operands: Any, cm: Any, tm: Any) -> None:
        nonlocal operations, content_bytes
        operations -= 1
        if operator == b"Do" and operands:
            content_bytes -= forms.get(str(operands[0]), 0)
        if operations < 0 or content_bytes < 0:
            raise _OperationsSpent

    reader = PdfReader(io.BytesIO(data))
    # pypdf opens a file encrypted with an empty user password (to restrict printing or copying) by itself.
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise ExtractionError("cannot read PDF: it is encrypted and opens only with a password: attach a copy saved "
                              "without one, or enter its fields by hand")
    total = len(reader.pages)
    count = total if limit is None else min(total, limit)
    budget = (f"their content is past the {MAX_PDF_CONTENT_BYTES:,} decoded bytes or {MAX_PDF_OPERATIONS:,} "
              "operations intake reads of one PDF")
    pages: list[str] = []
    chars = 0
    seconds = PDF_SECONDS if seconds is None else seconds
    deadline = time.monotonic() + seconds
    for i in range(count):
        if pages and time.monotonic() > deadline:  # the first page is read whatever it takes
            return pages, total, _timed_out(seconds)
        page = reader.pages[i]
        size, forms = _content_bytes(page)
        content_bytes -= size
        if content_bytes < 0:
            return pages, total, budget  # this page and the rest count as not read
        try:
            text = page.extract_text(visitor_operand_before=count_operation) or ""
        except _OperationsSpent:
            return pages, total, budget
        pages.append(text)
        chars += len(text)
        if chars > MAX_TEXT_CHARS:  # read_document cuts the text there
            return pages, total, f"the text before them reached {MAX_TEXT_CHARS:,} characters, the most intake searches"
    return pages, total, "" if count == total else f"intake reads at most {limit} pages of one PDF"


def _content_bytes(page: Any) -> tuple[int, dict[str, int]]:
    """Decoded size of the page's content and of every form its resources hold (each form once), and the size of
    the largest form under each name, which each drawing of it (`/Name Do`) costs again. The character maps of the
    fonts of the page, and of each form, count as content: pypdf parses them again for every page and every drawing
    of a form (a 10 KB file of 10 pages sharing a font whose map had 90,000 entries took 10 s to read)."""
    # Not page.get_contents(): that parses the stream, which is the cost this is to bound.
    contents = page.get("/Contents")
    contents = contents.get_object() if contents is not None else None
    streams = contents if isinstance(contents, list) else [contents]
    size = sum(len(stream.get_object().get_data()) for stream in streams if stream is not None)
    size += _font_bytes(page.get("/Resources"))
    forms: dict[str, int] = {}
    seen: set[int] = set()
    stack = [page.get("/Resources")]
    while stack:
        resources = stack.pop()
        resources = resources.get_object() if resources is not None else None
        xobjects = resources.get("/XObject") if isinstance(resources, dict) else None
        xobjects = xobjects.get_object() if xobjects is not None else None
        if not isinstance(xobjects, dict):
            continue
        for name, reference in xobjects.items():
            form = reference.get_object()
            get_data = getattr(form, "get_data", None)  # a stream; a damaged file may put anything here
            if get_data is None or not isinstance(form, dict) or form.get("/Subtype") != "/Form":
                continue
            form_size = len(get_data()) + _font_bytes(form.get("/Resources"))
            forms[str(name)] = max(forms.get(str(name), 0), form_size)
            if id(form) not in seen:
                seen.add(id(form))
                size += form_size
                stack.append(form.get("/Resources"))
    return size, forms


def _font_bytes(resources: Any) -> int:
    """Decoded size of the character maps (`/ToUnicode`, an embedded `/Encoding`) of the fonts in `resources`."""
    resources = resources.get_object() if resources is not None else None
    fonts = resources.get("/Font") if isinstance(resources, dict) else None
    fonts = fonts.get_object() if fonts is not None else None
    if not isinstance(fonts, dict):
        return 0
    size = 0
    for reference in fonts.values():
        font = reference.get_object()
        if not isinstance(font, dict):
            continue
        for key in ("/ToUnicode", "/Encoding"):
            cmap = font.get(key)
            get_data = getattr(cmap.get_object(), "get_data", None) if cmap is not None else None  # else a name
            if get_data is not None:
                size += len(get_data())
    return size


class _OperationsSpent(Exception):
    """The PDF's operations budget ran out while reading a page."""


# UTF-32 first: its little-endian mark begins with UTF-16's.
_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode_head(data: bytes) -> tuple[str, bool]:
    """The text of a text file's first bytes, enough for MAX_TEXT_CHARS characters in any encoding (`_decode`),
    and whether bytes past them were left undecoded. `ExtractionError` for bytes that are not text."""
    window = TEXT_HEAD_BYTES
    text = _decode(data[:window], final=len(data) <= window)
    sample = text[:65_536]
    controls = sum(1 for ch in sample if (ch < " " and ch not in "\t\n\r\f\v\0") or "\x7f" <= ch <= "\x9f")
    if controls > MAX_CONTROL_SHARE * len(sample):
        raise ExtractionError("cannot read it: it is neither a PDF nor text (its bytes look like an image, an archive "
                              "or another binary format)")
    return text, len(data) > window


def _decode(data: bytes, final: bool = True) -> str:
    """A text file's text: as its byte order mark says, else UTF-16 if it looks like it, else UTF-8, else
    Windows-1252 (the usual legacy encoding). `final=False`: `data` is the head of a file, which may end inside a
    character (left out)."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _decoded(data, encoding, final)
            except UnicodeDecodeError as exc:
                raise ExtractionError(f"cannot read text: it has a {encoding} byte order mark, but {exc}") from exc
    utf16 = _utf16_without_mark(data[:4096])
    if utf16 is not None:
        try:
            return _decoded(data, utf16, final)
        except UnicodeDecodeError as exc:
            raise ExtractionError(
                f"cannot read text: it looks like {utf16} without a byte order mark, but {exc}"
            ) from exc
    for encoding in ("utf-8", "cp1252"):
        try:
            return _decoded(data, encoding, final)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # never fails: every byte is a character


def _decoded(data: bytes, encoding: str, final: bool) -> str:
    return codecs.getincrementaldecoder(encoding)().decode(data, final)


def _utf16_without_mark(head: bytes) -> str | None:
    """UTF-16 without a byte order mark (as some Windows tools save text) is valid UTF-8 too, with a NUL between
    every two letters, and then no pattern matches. Latin text in UTF-16 has a NUL in nearly every high byte: on the
    odd bytes for little-endian, the even ones for big-endian; a stray NUL in a UTF-8 file is not that."""
    odd, even = head[1::2].count(0), head[0::2].count(0)
    half = len(head) // 2
    if half < 4:
        return None
    if odd >= 0.3 * half and even <= 0.05 * half:
        return "utf-16-le"
    if even >= 0.3 * half and odd <= 0.05 * half:
        return "utf-16-be"
    return None


# -- extracting ---------------------------------------------------------------------------------------------------
def extract_fields(case_type: CaseType, documents: Iterable[DocumentText]) -> ExtractionResult:
    """Apply every pattern to the documents it applies to; the first match per field wins, in document order. Each
    pattern may take PATTERN_SECONDS on a document, all of them EXTRACTION_SECONDS together; what they did not
    search in that time is said in the problems."""
    result = ExtractionResult()
    deadline = time.monotonic() + EXTRACTION_SECONDS
    for doc in documents:
        if doc.unread_pages:
            why = f": {doc.unread_reason}" if doc.unread_reason else ""
            result.problems.append(
                f"{doc.name}: only its first {len(doc.pages)} pages were read ({doc.unread_pages} more not "
                f"searched){why}"
            )
        result.problems.extend(f"{doc.name}: {note}" for note in doc.notes)
        unsearched = [pattern.field for pattern in case_type.patterns
                      if pattern.applies_to(doc.kind) and not _apply(pattern, doc, result, deadline)]
        if unsearched:
            result.problems.append(
                f"{doc.name}: not searched for {', '.join(unsearched)}: the patterns had used the "
                f"{EXTRACTION_SECONDS:g} s extraction has for all the documents"
            )
    return result


def _apply(pattern: PatternSpec, doc: DocumentText, result: ExtractionResult, deadline: float) -> bool:
    """Search the document with the pattern, until the pattern's time or the extraction's is spent; False if that
    was spent before it began."""
    # One budget for the whole document (`regex` counts a finditer's matching time against its timeout), so that a
    # 500-page PDF cannot multiply it.
    budget = min(PATTERN_SECONDS, deadline - time.monotonic())
    if budget <= 0:
        return False
    spent = (f"its {PATTERN_SECONDS:g} s for this document" if budget == PATTERN_SECONDS
             else f"the {EXTRACTION_SECONDS:g} s extraction has for all the documents")
    for page_no, text in enumerate(doc.pages, start=1):
        started = time.monotonic()
        try:
            if budget <= 0:
                raise TimeoutError
            for match in pattern.regex.finditer(text, timeout=budget):
                _add(pattern, doc, page_no, text, match, result)
        except TimeoutError:
            result.problems.append(
                f"{doc.name} p.{page_no}: {pattern.field}: the pattern ran out of {spent} and was stopped; the rest of "
                "the document was not searched for this field"
            )
            return True
        budget -= time.monotonic() - started
    return True


def _add(
    pattern: PatternSpec, doc: DocumentText, page_no: int, text: str, match: regex.Match[str], result: ExtractionResult
) -> None:
    raw = match.group(1)
    if raw is None:
        return
    start, end = match.span(1)
    try:
        value = convert(pattern.type, raw)
    except ValueError as exc:
        result.problems.append(f"{doc.name} p.{page_no}: {pattern.field} {raw.strip()!r}: {exc}")
        return
    lo, hi = max(0, start - CONTEXT_CHARS), min(len(text), end + CONTEXT_CHARS)
    found = Extracted(pattern.field, value, doc.name, page_no, (start, end), raw, " ".join(text[lo:hi].split()))
    if (pattern.field, value) in result.found:
        return
    result.found.add((pattern.field, value))
    if pattern.field not in result.values:
        result.values[pattern.field] = found
    else:
        result.alternatives.append(found)


def agrees(held: Any, value: Any) -> bool:
    """Whether the case holds what the document says: 12500 and 12,500.00 agree (the number is the same), true and
    1 do not (Python's == says they do, and intake took a case's 1 for the document's yes)."""
    if isinstance(held, bool) or isinstance(value, bool):
        return type(held) is type(value) and held == value
    return bool(held == value)


def _fill_reason(filled: list[Extracted], limit: int) -> str:
    """Where each value came from, with the text it was read from; for a form of many fields, which fit no reason
    so (60 fields refused the whole fill), the fields read from each document and page, the values being the
    event's own; cut at `limit` as the last resort."""
    reason = "extracted from documents: " + "; ".join(f"{f.field} from {f.source}" for f in filled)
    if len(reason) <= limit:
        return reason
    pages: dict[tuple[str, int], list[str]] = {}
    for found in filled:
        pages.setdefault((found.document, found.page), []).append(found.field)
    reason = "extracted from documents: " + "; ".join(
        f"{', '.join(fields)} from {document} p.{page}" for (document, page), fields in pages.items())
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


_MONTHS: Final = {
    m: i
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
         ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
         ("nov", "november"), ("dec", "december")],
        start=1,
    )
    for m in names
}
# Digits a number read from a document may have: more than any amount, and fewer than a float overflows at (308).
MAX_DIGITS: Final = 30
_NUMBER_RE: Final = re.compile(r"^[+-]?\d[\d.,' ]*$")
# Thousands separators group digits in threes, all with the same mark, and a decimal mark may follow: 12,500 /
# 1.234.567 / 1 234,56 / 1'234.50. A leading 0 starts no group (0,125 is a decimal).
_GROUPED: Final = re.compile(r"[+-]?[1-9]\d{0,2}(?P<sep>[.,' ])\d{3}(?:(?P=sep)\d{3})*(?:(?P<mark>[.,])(?P<dec>\d+))?")
_PLAIN: Final = re.compile(r"[+-]?\d+(?:[.,](?P<dec>\d+))?")
# no-break, thin and narrow no-break spaces; the typographic apostrophe (Swiss 1’234)
_SEPARATORS: Final = str.maketrans({"\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2019": "'"})


def convert(kind: str, raw: str) -> Any:
    """Text from a document as a case value of ``kind``; raises ValueError saying why it does not fit."""
    text = raw.strip()
    if kind == "string":
        if not text:
            raise ValueError("empty text")
        return " ".join(text.split())
    if kind == "number":
        return _number(text)
    if kind == "bool":
        low = text.lower()
        if low in ("yes", "y", "true", "x", "1", "ja", "oui"):
            return True
        if low in ("no", "n", "false", "0", "nein", "non", "-"):
            return False
        raise ValueError("not yes/no")
    if kind == "date":
        return _date(text).isoformat()
    raise ValueError(f"unknown field type {kind!r}")


def _number(text: str) -> int | float:
    compact = text.translate(_SEPARATORS).strip()
    if not _NUMBER_RE.match(compact):
        raise ValueError("not a number")
    length = sum(ch.isdigit() for ch in compact)
    if length > MAX_DIGITS:
        # No field holds such a number; from 309 digits a float is infinite, which no case variable can hold (the
        # engine refuses the whole fill command, every other field with it), and past 4,300 Python reads no int.
        raise ValueError(f"too large a number ({length:,} digits)")
    grouped = _GROUPED.fullmatch(compact)
    if grouped and grouped["mark"] != grouped["sep"]:
        whole = compact[: grouped.start("mark")] if grouped["mark"] else compact
        digits = whole.replace(grouped["sep"], "")
        return float(f"{digits}.{grouped['dec']}") if grouped["mark"] else int(digits)
    plain = _PLAIN.fullmatch(compact)
    # 1234,567 is a decimal if the comma is one and a misplaced thousands mark if not: refuse to guess, as for
    # anything else whose marks fit neither layout (4.200 15.03.2025, 1,500 3).
    if plain and not (plain["dec"] is not None and len(plain["dec"]) == 3 and compact.lstrip("+-")[0] != "0"):
        return float(compact.replace(",", ".")) if plain["dec"] is not None else int(compact)
    raise ValueError(
        "ambiguous number: thousands marks must group digits in threes, followed by at most one decimal mark "
        "(12,500.00 or 12.500,00)"
    )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text[:10]) if re.match(r"^\d{4}-\d{2}-\d{2}", text) else _other_date(text)
    except ValueError as exc:
        raise ValueError(f"not a date: {exc}") from None


def _other_date(text: str) -> dt.date:
    m = re.match(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$", text)  # 14.02.2025: day first, as written in Europe
    if m:
        return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    m = re.match(r"^(\d{1,2})\s+([A-Za-z]+)\.?\s+(\d{4})$", text)  # 14 February 2025
    if m and m.group(2).lower() in _MONTHS:
        return dt.date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
    # 02/03/2025 is ambiguous between day-first and month-first: refuse rather than guess.
    raise ValueError("use YYYY-MM-DD, DD.MM.YYYY or '14 February 2025'")


# -- filling ------------------------------------------------------------------------------------------------------
def fill_command(
    result: ExtractionResult,
    variables: Mapping[str, Any],
    *,
    actor: str,
    overwrite: Collection[str] = (),
) -> IntakePlan:
    """The ``SetVariables`` command that fills empty fields from ``result``; ``overwrite`` names fields to replace."""
    from casework.engine import commands
    from casework.insight.gaps import is_empty

    filled: list[Extracted] = []
    kept: list[tuple[Extracted, Any]] = []
    for name, found in sorted(result.values.items()):
        current = variables.get(name)
        if is_empty(current) or name in overwrite:
            if not agrees(current, found.value):
                filled.append(found)
        elif not agrees(current, found.value):
            kept.append((found, current))
    problems = list(result.problems)
    for alt in result.alternatives:
        chosen = result.values[alt.field]
        problems.append(
            f"{alt.field}: {alt.source} differs from {chosen.source}; used the first, check which is right"
        )
    if not filled:
        return IntakePlan(None, filled, kept, problems)
    reason = _fill_reason(filled, commands.MAX_TEXT)
    # Filled as the case stood when it was read: a value entered meanwhile refuses the fill instead of being lost.
    command = commands.SetVariables(variables={f.field: f.value for f in filled}, actor=actor, reason=reason,
                                    expected={f.field: variables.get(f.field) for f in filled})
    return IntakePlan(command, filled, kept, problems)
