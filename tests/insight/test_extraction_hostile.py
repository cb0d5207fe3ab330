"""Intake extraction on hostile and odd uploads: every file gives either fields or a reason, in the result, why not;
never a traceback, and nothing that grows with what the file claims to hold."""

from __future__ import annotations

import io
import logging

import pytest
from pypdf import PdfReader, PdfWriter
from test_extraction import CLAIM_PDF, _stream

from casework.insight import extraction
from casework.insight.casetype import bundled_case_type, parse_case_type
from casework.insight.extraction import DocumentText, ExtractionError, extract_fields, read_document
from casework.insight.sample_pdf import pdf_of_objects, text_pdf

CLAIM = bundled_case_type("insurance_claim")
FOUND_IN_CLAIM_PDF = {"policyNumber": "AB-123456", "claimant": "Ann Smith", "amount": 12500.0,
                      "incidentDate": "2025-02-14"}
FORM = "Policy number: AB-123456\nClaimant: Zoë Brandt\nClaimed amount: 500\n"
FOUND_IN_FORM = {"policyNumber": "AB-123456", "claimant": "Zoë Brandt", "amount": 500}


def _found(name: str, data: bytes, media_type: str | None = None) -> tuple[dict[str, object], list[str]]:
    result = extract_fields(CLAIM, [read_document(name, data, "claim_form", media_type)])
    return {field: found.value for field, found in result.values.items()}, result.problems


def _encrypted(user_password: str, algorithm: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf(CLAIM_PDF))))
    writer.encrypt(user_password=user_password, owner_password="owner's secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_a_pdf_encrypted_with_an_empty_user_password_is_read(algorithm: str) -> None:
    # Such a file opens without a password in any viewer (the owner's password restricts printing or copying).
    assert _found("claim.pdf", _encrypted("", algorithm)) == (FOUND_IN_CLAIM_PDF, [])


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-256"])
def test_a_pdf_that_needs_a_password_is_refused_saying_so(algorithm: str) -> None:
    # It was "cannot read PDF: FileNotDecryptedError: File has not been decrypted".
    with pytest.raises(ExtractionError, match=r"^cannot read PDF: it is encrypted and opens only with a password: "
                                              r"attach a copy saved without one, or enter its fields by hand$"):
        read_document("claim.pdf", _encrypted("secret", algorithm), "claim_form")


def test_a_pdf_cut_short_after_its_cross_reference_table_is_read_and_one_cut_earlier_says_so() -> None:
    good = text_pdf(CLAIM_PDF)
    # Only the end marker missing: pypdf failed with "Stream has ended unexpectedly".
    assert _found("claim.pdf", good[:good.rindex(b"%%EOF")]) == (FOUND_IN_CLAIM_PDF, [])
    for cut in (len(good) // 2, len(good) - 40):
        with pytest.raises(ExtractionError, match=r"^cannot read PDF: it is cut short or damaged \(it does not end "
                                                  r"with %%EOF\): "):
            read_document("claim.pdf", good[:cut], "claim_form")


def test_a_pdf_of_more_pages_than_intake_opens_is_refused_saying_so(monkeypatch: pytest.MonkeyPatch) -> None:
    # pypdf reads every page object before the first page can be read: 40,000 one-line pages took 7.9 s and 240 MB.
    monkeypatch.setattr(extraction, "MAX_PDF_TREE_ENTRIES", 10)
    assert _found("claim.pdf", text_pdf(CLAIM_PDF * 5))[0] == FOUND_IN_CLAIM_PDF
    with pytest.raises(ExtractionError, match=r"^cannot read PDF: it goes past what intake reads of one PDF: Maximum "
                                              r"page tree entry limit reached: 11 > 10\. .*at most 10 pages\)$"):
        read_document("claim.pdf", text_pdf(CLAIM_PDF * 6), "claim_form")


def test_pages_past_the_content_budget_are_reported_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extraction, "MAX_PDF_CONTENT_BYTES", 200)
    doc = read_document("claim.pdf", text_pdf([["short"], ["long line " * 30], ["Policy number: AB-123456"]]),
                        "claim_form")
    assert (len(doc.pages), doc.unread_pages) == (1, 2)
    # It said "only its first 1 pages were read (2 more not searched)", as if the file were too long.
    assert extract_fields(CLAIM, [doc]).problems == [
        "claim.pdf: only its first 1 pages were read (2 more not searched): their content is past the 200 decoded "
        "bytes or 500,000 operations intake reads of one PDF"
    ]


def test_a_text_file_named_as_a_pdf_is_read_as_text_and_that_is_said() -> None:
    # It was an ExtractionError ("cannot read PDF: ... Stream has ended unexpectedly"), its fields lost.
    for name, media_type in (("form.pdf", None), ("form", "application/pdf")):
        assert _found(name, FORM.encode(), media_type) == (FOUND_IN_FORM, [
            f"{name}: it is named or typed as a PDF but is none (no %PDF- signature): it was read as text"
        ])


def test_a_pdf_is_read_as_a_pdf_whatever_its_name_even_after_leading_bytes() -> None:
    # A byte order mark and a blank line before the signature (as a mail gateway may leave): the file was read as
    # text, and "Claimant" took the PDF's own syntax, "Ann Smith) Tj T*".
    data = b"\xef\xbb\xbf\r\n" + text_pdf(CLAIM_PDF)
    assert _found("form.txt", data) == (FOUND_IN_CLAIM_PDF, [])


def test_a_pdf_named_so_whose_signature_is_damaged_is_still_read_as_a_pdf() -> None:
    # Its objects show it is one (pypdf reads it without the signature), and read as text its syntax gave values.
    data = b"%PFD" + text_pdf(CLAIM_PDF)[4:]
    assert _found("claim.pdf", data) == (FOUND_IN_CLAIM_PDF, [])
    with pytest.raises(ExtractionError, match=r"^cannot read PDF: it is damaged, or made in a way"):
        read_document("claim.pdf", data[:len(data) // 2] + b"%%EOF", "claim_form")


@pytest.mark.parametrize("name", ["form.txt", "form.pdf"])
def test_an_empty_file_is_said_to_be_empty(name: str) -> None:
    # The text file gave nothing and no reason; the PDF, "cannot read PDF: EmptyFileError".
    assert _found(name, b"") == ({}, [f"{name}: it is empty (0 bytes): there is nothing to search"])


def test_a_pdf_without_text_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _found("scan.pdf", text_pdf([[], []])) == ({}, [
        "scan.pdf: no text was found in it (a scanned page has none without a text layer)"
    ])
    monkeypatch.setattr(extraction, "MAX_PDF_PAGES", 1)
    assert _found("scan.pdf", text_pdf([[], []])) == ({}, [
        "scan.pdf: only its first 1 pages were read (1 more not searched): intake reads at most 1 pages of one PDF",
        "scan.pdf: no text was found in the pages read (a scanned page has none without a text layer)",
    ])
    assert _found("blank.txt", b" \r\n\t\n") == ({}, ["blank.txt: no text was found in it"])


def test_a_binary_file_is_refused_not_searched() -> None:
    # Every byte value: it was decoded as Windows-1252 and searched, finding nothing and saying nothing.
    with pytest.raises(ExtractionError, match=r"^cannot read it: it is neither a PDF nor text"):
        read_document("photo.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64, "claim_form")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1", "cp1252"])
def test_nul_bytes_in_text_are_left_out(encoding: str) -> None:
    # A NUL inside a word ("Clai\0mant") hid the field from its pattern; NULs padding the file are no text either.
    data = FORM.replace("Claimant", "Clai\0mant").encode(encoding) + "\0".encode(encoding) * 100
    assert _found("form.txt", data) == (FOUND_IN_FORM, [])


def test_a_text_longer_than_the_text_budget_is_cut_and_that_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extraction, "MAX_TEXT_CHARS", 1_000)
    filler = "x" * 99 + "\n"
    text = FORM + filler * 20 + "Date of incident: 2025-01-05\n"
    doc = read_document("form.txt", text.encode("utf-16"), "claim_form")
    assert doc.pages == (text[:1_000],)
    values, problems = _found("form.txt", text.encode())
    assert values == FOUND_IN_FORM  # the date, past the budget, not searched
    assert problems == ["form.txt: only its first 1,000 characters were searched, the most intake searches in one "
                        "document"]
    # A file far larger than the budget is not decoded whole: a multi-byte character cut at the window is left out.
    monkeypatch.setattr(extraction, "MAX_TEXT_CHARS", 10)
    assert read_document("form.txt", "Zoë Brandt and more".encode() * 10, "claim_form").pages == ("Zoë Brandt",)


def test_pdf_pages_past_the_text_budget_are_not_read_and_that_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extraction, "MAX_TEXT_CHARS", 150)
    doc = read_document("long.pdf", text_pdf([["a" * 100], ["b" * 100], ["c" * 100], ["d"]]), "claim_form")
    assert [page.strip()[:1] for page in doc.pages] == ["a", "b"] and sum(map(len, doc.pages)) == 150
    assert doc.unread_pages == 2
    assert extract_fields(CLAIM, [doc]).problems == [
        "long.pdf: only its first 2 pages were read (2 more not searched): the text before them reached 150 "
        "characters, the most intake searches",
        "long.pdf: only its first 150 characters were searched, the most intake searches in one document",
    ]


def test_catastrophic_patterns_are_stopped_on_a_hostile_document(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nested quantifiers, `(a+)+$`, which backtrack exponentially in `re` (40 "a"s: hours), the `regex` engine
    # matches at once; overlapping alternatives under one, `(a|a)+$`, it does not: stopped at its time.
    monkeypatch.setattr(extraction, "PATTERN_SECONDS", 0.05)
    case_type = parse_case_type('[case_type]\nkey = "t"\ndefinition = "d"\n'
                                "[[patterns]]\nfield = \"nested\"\nregex = '^Ref: ((?:a+)+)$'\n"
                                "[[patterns]]\nfield = \"overlapping\"\nregex = '^Ref: ((?:a|a)+)$'\n")
    result = extract_fields(case_type, [DocumentText("hostile.txt", "letter", ("Ref: " + "a" * 40 + "b",))])
    assert result.values == {}
    assert result.problems == [
        "hostile.txt p.1: overlapping: the pattern ran out of its 0.05 s for this document and was stopped; the rest "
        "of the document was not searched for this field"
    ]


def test_all_patterns_together_are_bounded_on_all_the_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    # A second per pattern and document: 20 bad patterns on 5 uploads held extraction for 100 s.
    monkeypatch.setattr(extraction, "PATTERN_SECONDS", 5.0)
    monkeypatch.setattr(extraction, "EXTRACTION_SECONDS", 0.1)
    slow = "".join(f"[[patterns]]\nfield = \"slow{n}\"\nregex = '^Ref: ((?:a|a)+)$'\n" for n in range(3))
    case_type = parse_case_type(f'[case_type]\nkey = "t"\ndefinition = "d"\n{slow}')
    hostile = [DocumentText(f"hostile{n}.txt", "letter", ("Ref: " + "a" * 40 + "b",)) for n in range(2)]
    result = extract_fields(case_type, hostile)
    assert result.values == {}
    assert result.problems == [
        "hostile0.txt p.1: slow0: the pattern ran out of the 0.1 s extraction has for all the documents and was "
        "stopped; the rest of the document was not searched for this field",
        "hostile0.txt: not searched for slow1, slow2: the patterns had used the 0.1 s extraction has for all the "
        "documents",
        "hostile1.txt: not searched for slow0, slow1, slow2: the patterns had used the 0.1 s extraction has for all "
        "the documents",
    ]


def test_the_character_maps_of_a_pages_fonts_count_against_the_content_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pypdf parses a font's map again for each page that uses it: a 10 KB file of 10 pages sharing a font whose map
    # had 90,000 entries took 10 s to read, counted as 39 bytes of content a page.
    entries = b"".join(b"<%02X> <%04X>\n" % (i, 0x41 + i % 26) for i in range(100))
    cmap = b"begincmap\n1 begincodespacerange <00> <FF> endcodespacerange\n100 beginbfchar\n" + entries + \
        b"endbfchar\nendcmap"
    content = b"BT /F1 11 Tf 72 700 Td (Ann) Tj ET"
    monkeypatch.setattr(extraction, "MAX_PDF_CONTENT_BYTES", 2 * (len(content) + len(cmap)) - 1)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> " \
           b"/Contents 4 0 R >>"
    pdf = pdf_of_objects({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [6 0 R 7 0 R 8 0 R] /Count 3 >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 5 0 R >>",
        4: _stream(content),
        5: _stream(cmap),
        **{n: page for n in (6, 7, 8)},
    })
    doc = read_document("fonts.pdf", pdf, "claim_form")
    assert (len(doc.pages), doc.unread_pages) == (1, 2) and doc.pages[0].strip()


def test_reading_a_pdf_stops_when_its_time_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    # What pypdf does again for every page outruns the budgets that count bytes (a page naming 5,000 fonts took
    # 0.5 s, and 500 pages could share them): past its time the pages after the one being read are not read.
    monkeypatch.setattr(extraction, "PDF_SECONDS", 0.0)
    doc = read_document("claim.pdf", text_pdf(CLAIM_PDF), "claim_form")
    assert (len(doc.pages), doc.unread_pages) == (1, 1) and "AB-123456" in doc.pages[0]
    assert extract_fields(CLAIM, [doc]).problems == [
        "claim.pdf: only its first 1 pages were read (1 more not searched): reading it took more than the 0 s given "
        "to one PDF"
    ]


def test_the_pdf_readers_warnings_on_a_damaged_upload_stay_off_the_terminal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # pypdf logged "EOF marker not found" to standard error, between the lines of `suggest similar`'s table.
    good = text_pdf(CLAIM_PDF)
    with caplog.at_level(logging.WARNING):
        assert _found("claim.pdf", good[:good.rindex(b"%%EOF")]) == (FOUND_IN_CLAIM_PDF, [])
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == []


def test_a_pattern_that_matches_every_word_searches_the_whole_document() -> None:
    # Each match was compared with every value found before it: 20,000 distinct words took the pattern past its 1 s
    # (about 2e8 comparisons), the rest of the document unsearched and a problem said so, on every judgement
    kind = parse_case_type('[case_type]\nkey = "w"\ndefinition = "d"\n[[fields]]\nname = "note"\nrequired = false\n'
                           "[[patterns]]\nfield = \"note\"\nregex = '(\\w+)'\n")
    words = [f"w{i:05}" for i in range(20_000)]
    result = extract_fields(kind, [DocumentText("words.txt", "words", (" ".join(words + words[:100]),))])
    assert result.problems == []
    assert result.values["note"].value == "w00000"
    assert [found.value for found in result.alternatives] == words[1:]
