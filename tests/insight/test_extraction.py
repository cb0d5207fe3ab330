from __future__ import annotations

import collections
import datetime as dt
import random
import zlib

import pytest

from casework.demo import demo_definition
from casework.engine import CaseState, CommandRejected, commands, execute
from casework.insight import extraction
from casework.insight.casetype import bundled_case_type, parse_case_type
from casework.insight.extraction import (
    MAX_PDF_PAGES,
    DocumentText,
    ExtractionError,
    convert,
    extract_fields,
    fill_command,
    read_document,
)
from casework.insight.flags import assess
from casework.insight.sample_pdf import pdf_of_objects, text_pdf

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)




CLAIM_PDF = [
    ["Motor claim form", "Policy number: AB-123456", "Claimant: Ann Smith"],
    ["Date of the accident: 14.02.2025", "Claimed amount: EUR 12,500.00"],
]


def test_pdf_text_is_read_page_by_page() -> None:
    doc = read_document("claim.pdf", text_pdf(CLAIM_PDF), "claim_form")
    assert doc.kind == "claim_form" and len(doc.pages) == 2
    assert "Policy number: AB-123456" in doc.pages[0]
    assert "Claimed amount: EUR 12,500.00" in doc.pages[1]


def test_plain_text_and_unreadable_pdf() -> None:
    doc = read_document("notes.txt", "Claimant: Zoë Brandt\n".encode(), "claim_form")
    assert doc.pages == ("Claimant: Zoë Brandt\n",)
    latin = read_document("old.txt", "Claimant: Zoë".encode("cp1252"), "claim_form")
    assert latin.pages == ("Claimant: Zoë",)
    with pytest.raises(ExtractionError, match="cannot read PDF"):
        read_document("broken.pdf", b"%PDF-1.4\nnot really a pdf", "claim_form")


def test_damaged_pdfs_are_extraction_errors_whatever_breaks_inside_the_reader() -> None:
    # Uploads are untrusted: random damage to a valid PDF made pypdf raise NotImplementedError, AttributeError and
    # LimitReachedError besides its read errors, which reached the caller as they were.
    rng = random.Random(7)
    good = text_pdf(CLAIM_PDF)
    outcomes = collections.Counter()
    for _ in range(400):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            roll = rng.random()
            if roll < 0.5:
                data[at] = rng.randrange(256)
            elif roll < 0.75:
                del data[at : at + rng.randint(1, 20)]
            else:
                data[at:at] = rng.randbytes(rng.randint(1, 10))
        try:
            read_document("upload.pdf", bytes(data), "claim_form")
            outcomes["read"] += 1
        except ExtractionError:
            outcomes["refused"] += 1
    assert outcomes["read"] > 0 and outcomes["refused"] > 0 and sum(outcomes.values()) == 400


def test_a_decompression_bomb_is_refused() -> None:
    # 20 MB of page content in a 60 KB file: under pypdf's own bound of 75 MB, which let a 60 MB one be decompressed
    # whole (134 MB at its peak) only for the content budget to read none of it; intake's bound is lower.
    content = b"BT /F1 12 Tf 10 10 Td (AAAA) Tj ET\n" * (20_000_000 // 36)
    pdf = text_pdf(CLAIM_PDF).replace(b"<< /Length", b"<< /Filter /FlateDecode /Length", 1)
    start = pdf.index(b"stream\n") + len(b"stream\n")
    end = pdf.index(b"\nendstream", start)
    packed = zlib.compress(content, 9)
    head = pdf[:start].rsplit(b"/Length", 1)[0] + b"/Length %d >>\nstream\n" % len(packed)
    bomb = head + packed + pdf[end:]
    with pytest.raises(ExtractionError, match=r"cannot read PDF: it goes past what intake reads of one PDF: Limit "
                                              r"reached while decompressing.* \(a stream may decompress to at most "
                                              r"16,000,000 bytes"):
        read_document("bomb.pdf", bomb, "claim_form")


def test_only_the_first_pages_of_a_long_pdf_are_read_and_that_is_said() -> None:
    pages = [[f"page {n}"] for n in range(MAX_PDF_PAGES + 3)]
    pages[-1] = ["Policy number: ZZ-999999"]  # past the limit: not found
    doc = read_document("long.pdf", text_pdf(pages), "claim_form")
    assert len(doc.pages) == MAX_PDF_PAGES and doc.unread_pages == 3 and doc.pages[-1].strip() == "page 499"
    result = extract_fields(bundled_case_type("insurance_claim"), [doc])
    assert "policyNumber" not in result.values
    assert result.problems == [f"long.pdf: only its first {MAX_PDF_PAGES} pages were read (3 more not searched): "
                               f"intake reads at most {MAX_PDF_PAGES} pages of one PDF"]


def test_fields_are_extracted_with_their_source() -> None:
    ct = bundled_case_type("insurance_claim")
    doc = read_document("claim.pdf", text_pdf(CLAIM_PDF), "claim_form")
    result = extract_fields(ct, [doc])
    values = {name: found.value for name, found in result.values.items()}
    assert values == {
        "policyNumber": "AB-123456",
        "claimant": "Ann Smith",
        "amount": 12500.0,
        "incidentDate": "2025-02-14",
    }
    amount = result.values["amount"]
    assert (amount.document, amount.page, amount.text) == ("claim.pdf", 2, "12,500.00")
    assert doc.pages[1][amount.span[0] : amount.span[1]] == "12,500.00"
    assert "Claimed amount: EUR 12,500.00" in amount.context
    assert amount.source == "claim.pdf p.2: '12,500.00'"
    assert result.problems == [] and result.alternatives == []


def test_patterns_only_search_their_document_kinds() -> None:
    ct = bundled_case_type("insurance_claim")
    letter = DocumentText("letter.txt", "letter", ("Policy number: ZZ-999999\nDate of incident: 2025-01-05",))
    result = extract_fields(ct, [letter])
    # policyNumber is declared for claim forms only; incidentDate applies to every document.
    assert set(result.values) == {"incidentDate"}


def test_fill_never_overwrites_what_a_person_entered() -> None:
    ct = bundled_case_type("insurance_claim")
    result = extract_fields(ct, [read_document("claim.pdf", text_pdf(CLAIM_PDF), "claim_form")])
    current = {"policyNumber": "AB-654321", "claimant": "Ann Smith", "amount": None}
    plan = fill_command(result, current, actor="intake")
    assert plan.command is not None
    assert plan.command.variables == {"amount": 12500.0, "incidentDate": "2025-02-14"}
    assert plan.command.actor == "intake"
    assert plan.command.reason is not None
    assert "amount from claim.pdf p.2: '12,500.00'" in plan.command.reason
    assert "incidentDate from claim.pdf p.2: '14.02.2025'" in plan.command.reason
    ((found, kept_value),) = plan.kept
    assert (found.field, found.value, kept_value) == ("policyNumber", "AB-123456", "AB-654321")

    asked = fill_command(result, current, actor="ann", overwrite={"policyNumber"})
    assert asked.command is not None and asked.command.variables["policyNumber"] == "AB-123456"
    assert asked.kept == []

    same = fill_command(result, {name: f.value for name, f in result.values.items()}, actor="intake")
    assert same.command is None and same.kept == []


def test_conflicting_values_and_bad_text_are_reported() -> None:
    ct = bundled_case_type("insurance_claim")
    form = DocumentText("form.txt", "claim_form", ("Claimed amount: 900\nDate of accident: 02/03/2025",))
    estimate = DocumentText("estimate.txt", "repair_estimate", ("Amount claimed: 1.250,50",))
    result = extract_fields(ct, [form, estimate])
    assert result.values["amount"].value == 900
    assert [(a.document, a.value) for a in result.alternatives] == [("estimate.txt", 1250.5)]
    plan = fill_command(result, {}, actor="intake")
    assert any(p.startswith("amount: estimate.txt p.1") and "differs from form.txt" in p for p in plan.problems)
    # The date pattern does not match 02/03/2025 at all (ambiguous), so nothing is guessed for it.
    assert "incidentDate" not in result.values


def test_extracted_values_fill_the_case_and_close_gaps() -> None:
    ct = bundled_case_type("insurance_claim")
    definition = demo_definition()
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(variables={}, actor="ann"), T0)
    documents = [("claim_form", "claim.pdf")]
    before = {f.id for f in assess(ct, definition, state, documents, T0)}
    assert {"missing-field:policyNumber", "missing-field:amount"} <= before

    result = extract_fields(ct, [read_document("claim.pdf", text_pdf(CLAIM_PDF), "claim_form")])
    plan = fill_command(result, state.variables, actor="intake")
    assert plan.command is not None
    events = execute(definition, state, plan.command, T0)
    assert any(e.reason == plan.command.reason for e in events)  # the sources are in the audit trail
    after = {f.id for f in assess(ct, definition, state, documents, T0)}
    # The fields are filled; the amount (12,500) now makes a police report required, which is missing.
    assert not any(i.startswith("missing-field:") for i in after)
    assert "missing-document:police_report" in after


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("number", "12,500", 12500),
        ("number", "12,50", 12.5),
        ("number", "1.234.567", 1234567),
        ("number", "1,234.56", 1234.56),
        ("number", "1 234,56", 1234.56),
        ("number", "42", 42),
        ("date", "2025-02-14", "2025-02-14"),
        ("date", "14.2.2025", "2025-02-14"),
        ("date", "14 February 2025", "2025-02-14"),
        ("bool", "Yes", True),
        ("bool", "no", False),
        ("string", "  Ann   Smith ", "Ann Smith"),
    ],
)
def test_convert(kind: str, raw: str, value: object) -> None:
    assert convert(kind, raw) == value


@pytest.mark.parametrize(("kind", "raw"), [("number", "12a"), ("date", "02/03/2025"), ("date", "31.02.2025"),
                                           ("bool", "maybe"), ("string", "  ")])
def test_convert_rejects(kind: str, raw: str) -> None:
    with pytest.raises(ValueError):
        convert(kind, raw)


def test_the_bundled_patterns_stay_fast_on_long_runs_of_spaces() -> None:
    # `\s*:?\s*(?:EUR|...)?\s*` could share a run of spaces among its three parts in cubically many ways: 4,000
    # spaces took the amount pattern 166 s, and 20,000 would overrun even the time budget of the `regex` engine.
    # Each pattern now has one run between two tokens and is linear, so it finishes and no problem is reported.
    spaces = " " * 20_000
    text = "\n".join(f"{label}{spaces}x" for label in ("Claimed amount", "Policy number", "Date of incident"))
    text += f"\nClaimant: a{spaces}x\nClaimed amount: 300"
    result = extract_fields(bundled_case_type("insurance_claim"), [DocumentText("form.txt", "claim_form", (text,))])
    assert result.problems == []
    assert {name: found.value for name, found in result.values.items()} == {"claimant": "a x", "amount": 300}


def test_a_slow_pattern_is_stopped_and_reported_and_the_rest_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # Case types come from administrators: a pattern that backtracks exponentially (here on 60 "a"s, which would
    # run for far longer than anyone waits) is stopped when it has used its time on a document, and reported.
    monkeypatch.setattr(extraction, "PATTERN_SECONDS", 0.05)
    case_type = parse_case_type(
        '[case_type]\nkey = "t"\ndefinition = "d"\n'
        '[[patterns]]\nfield = "ref"\nregex = \'Ref: ((?:a|aa)+)$\'\n'
        '[[patterns]]\nfield = "name"\nregex = \'Name: (\\w+)\'\n'
    )
    hostile = DocumentText("hostile.txt", "letter", ("Name: Ann\nRef: " + "a" * 60 + "b",))
    fine = DocumentText("fine.txt", "letter", ("Ref: aaa",))
    result = extract_fields(case_type, [hostile, fine])
    assert result.problems == [
        "hostile.txt p.1: ref: the pattern ran out of its 0.05 s for this document and was stopped; the rest of the "
        "document was not searched for this field"
    ]
    assert {name: (found.document, found.value) for name, found in result.values.items()} == {
        "name": ("hostile.txt", "Ann"),
        "ref": ("fine.txt", "aaa"),
    }


@pytest.mark.parametrize(
    ("line", "text", "value"),
    [
        ("Claimed amount: 4.200 15.03.2025", "4.200", 4200),  # was 420015032025
        ("Claimed amount: 1,500 3 photos attached", "1,500", 1500),  # was 1.5003
        ("Claimed amount: EUR 2 500 3 photos", "2 500", 2500),  # was 25003
        ("Claimed amount: 1\u202f234,50 EUR", "1\u202f234,50", 1234.5),
        ("Claimed amount: 1'234.50.", "1'234.50", 1234.5),
        ("Claimed amount: 0,125", "0,125", 0.125),  # was 125: a leading 0 is no thousands group
    ],
)
def test_the_amount_stops_where_the_number_does(line: str, text: str, value: float) -> None:
    result = extract_fields(bundled_case_type("insurance_claim"), [read_document("f.txt", line.encode(), "claim_form")])
    found = result.values["amount"]
    assert (found.text, found.value) == (text, value)


def test_an_amount_whose_marks_fit_no_layout_is_a_problem_not_a_guess() -> None:
    doc = read_document("f.txt", b"Claimed amount: 1,234,56", "claim_form")
    result = extract_fields(bundled_case_type("insurance_claim"), [doc])
    assert "amount" not in result.values
    assert result.problems == ["f.txt p.1: amount '1,234,56': " + AMBIGUOUS]


AMBIGUOUS = (
    "ambiguous number: thousands marks must group digits in threes, followed by at most one decimal mark "
    "(12,500.00 or 12.500,00)"
)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("0,125", 0.125), ("1\u2009234", 1234), ("1\u202f234,50", 1234.5)],
)
def test_convert_reads_numbers_in_either_layout(raw: str, value: float) -> None:
    assert convert("number", raw) == value


@pytest.mark.parametrize("raw", ["4.200 15.03.2025", "1,500 3", "1,234,56", "1234,567", "1.234.5678", "1."])
def test_convert_refuses_ambiguous_numbers(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^ambiguous number"):
        convert("number", raw)


FORM = "Policy number: AB-123456\nClaimant: Jane Doe\nClaimed amount: 500\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be"])
def test_text_files_are_decoded_as_their_byte_order_mark_says(encoding: str) -> None:
    data = FORM.encode(encoding)
    if encoding in ("utf-16-be", "utf-32-be"):  # these codecs write no mark of their own
        data = ("\ufeff" + FORM).encode(encoding)
    doc = read_document("form.txt", data, "claim_form")
    assert doc.pages == (FORM,)
    values = extract_fields(bundled_case_type("insurance_claim"), [doc]).values
    assert {name: found.value for name, found in values.items()} == {
        "policyNumber": "AB-123456",
        "claimant": "Jane Doe",
        "amount": 500,
    }


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_as_utf16(encoding: str) -> None:
    doc = read_document("form.txt", ("Schadensmeldung für Jane\n" + FORM).encode(encoding), "claim_form")
    assert doc.pages == ("Schadensmeldung für Jane\n" + FORM,)
    values = extract_fields(bundled_case_type("insurance_claim"), [doc]).values
    assert values["amount"].value == 500


def test_a_stray_nul_in_utf8_text_does_not_make_it_utf16() -> None:
    doc = read_document("form.txt", FORM.encode() + b"\x00", "claim_form")
    assert doc.pages == (FORM,)  # and the NUL, no text, left out


def test_a_byte_order_mark_over_text_it_does_not_fit_is_an_extraction_error() -> None:
    with pytest.raises(ExtractionError, match="cannot read text: it has a utf-16 byte order mark"):
        read_document("form.txt", "Claimant: Jane".encode("utf-16") + b"\x00", "claim_form")


@pytest.mark.parametrize("newline", ["\r", "\r\n"])
def test_carriage_returns_end_lines(newline: str) -> None:
    # CR-only: the claimant took the rest of the file; CRLF: the reason quoted 'Jane Doe\r'
    doc = read_document("form.txt", FORM.replace("\n", newline).encode(), "claim_form")
    assert doc.pages == (FORM,)
    result = extract_fields(bundled_case_type("insurance_claim"), [doc])
    assert result.values["claimant"].text == "Jane Doe"
    plan = fill_command(result, {}, actor="intake")
    assert plan.command is not None and plan.command.reason is not None
    assert "claimant from form.txt p.1: 'Jane Doe'" in plan.command.reason


def test_a_value_entered_after_the_fill_was_decided_refuses_the_fill_instead_of_being_overwritten() -> None:
    definition = demo_definition()
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(variables={"amount": 900}, actor="ann"), T0)
    result = extract_fields(bundled_case_type("insurance_claim"),
                            [read_document("claim.pdf", text_pdf(CLAIM_PDF), "claim_form")])
    plan = fill_command(result, state.variables, actor="intake")  # shown to a person, who will apply it
    assert plan.command is not None and "claimant" in plan.command.variables
    # Meanwhile a colleague enters the claimant's name from a phone call.
    execute(definition, state, commands.SetVariables(variables={"claimant": "Ann Smyth"}, actor="bob"), T0)
    with pytest.raises(CommandRejected, match=r"^'claimant' changed since this change was decided: nothing set"):
        execute(definition, state, plan.command, T0)
    assert state.variables["claimant"] == "Ann Smyth" and "policyNumber" not in state.variables
    # Read again, the fill leaves her value and fills the rest.
    again = fill_command(result, state.variables, actor="intake")
    assert again.command is not None
    execute(definition, state, again.command, T0)
    assert state.variables["claimant"] == "Ann Smyth" and state.variables["policyNumber"] == "AB-123456"


def test_an_absurdly_long_amount_is_a_problem_and_the_other_fields_still_fill_the_case() -> None:
    # 400 digits made a float of inf: the engine refused the whole fill command, policy number and claimant with it;
    # 5,000 digits raised Python's own "Exceeds the limit (4300 digits)".
    ct = bundled_case_type("insurance_claim")
    definition = demo_definition()
    for amount in ("9" * 400 + ".50", "9" * 5000):
        state = CaseState.create("c1", definition)
        execute(definition, state, commands.StartCase(variables={}, actor="ann"), T0)
        text = f"Policy number: AB-123456\nClaimant: Ann Smith\nClaimed amount: EUR {amount}\n"
        result = extract_fields(ct, [read_document("claim.txt", text.encode(), "claim_form")])
        assert "amount" not in result.values
        assert [p for p in result.problems if "too large a number" in p and "digits)" in p]
        plan = fill_command(result, state.variables, actor="intake")
        assert plan.command is not None
        execute(definition, state, plan.command, T0)
        assert state.variables == {"policyNumber": "AB-123456", "claimant": "Ann Smith"}
    assert convert("number", "1" * 30) == int("1" * 30)


def test_a_long_captured_text_is_quoted_short_in_the_audit_reason() -> None:
    # A claimant line of a megabyte was quoted whole in the fill command's reason, which every event it wrote carries.
    ct = bundled_case_type("insurance_claim")
    name = "Zoë " * 250_000
    result = extract_fields(ct, [read_document("claim.txt", f"Claimant: {name}\n".encode(), "claim_form")])
    plan = fill_command(result, {}, actor="intake")
    assert plan.command is not None and plan.command.variables["claimant"] == name.strip()
    assert len(plan.command.reason or "") < 300
    assert "(999,999 characters)" in (plan.command.reason or "")




def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< %s /Length %d >>\nstream\n" % (extra, len(data)) + data + b"\nendstream"


def test_pages_sharing_one_large_content_stream_are_read_only_up_to_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Five pages drawing the same stream: the file holds it once, reading it costs it five times (500 pages sharing
    # 2 MB of text operations: 50 minutes for a 6 KB file).
    content = b"BT /F1 11 Tf 72 760 Td (line) Tj ET\n" * 100
    monkeypatch.setattr(extraction, "MAX_PDF_CONTENT_BYTES", 2 * len(content) + 10)
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> " \
           b"/Contents 4 0 R >>"
    pdf = pdf_of_objects({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [5 0 R 6 0 R 7 0 R 8 0 R 9 0 R] /Count 5 >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        4: _stream(content),
        **{n: page for n in range(5, 10)},
    })
    doc = read_document("shared.pdf", pdf, "claim_form")
    assert len(doc.pages) == 2 and doc.unread_pages == 3 and "line" in doc.pages[0]


def test_a_form_drawn_many_times_counts_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    form = b"BT /F1 11 Tf 72 760 Td (drawn) Tj ET"
    monkeypatch.setattr(extraction, "MAX_PDF_CONTENT_BYTES", 50 * len(form))
    resources = b"/Resources << /Font << /F1 3 0 R >> /XObject << /X0 5 0 R >> >>"
    pdf = pdf_of_objects({
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [6 0 R 8 0 R] /Count 2 >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        4: _stream(b"/X0 Do\n" * 5),
        5: _stream(form, b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"),
        6: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] %s /Contents 4 0 R >>" % resources,
        7: _stream(b"/X0 Do\n" * 200),
        8: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] %s /Contents 7 0 R >>" % resources,
    })
    doc = read_document("forms.pdf", pdf, "claim_form")
    assert len(doc.pages) == 1 and doc.unread_pages == 1 and doc.pages[0].count("drawn") == 5


def test_reading_stops_when_the_operations_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extraction, "MAX_PDF_OPERATIONS", 100)
    doc = read_document("ops.pdf", text_pdf([["first"] * 5, ["second"] * 100, ["third"]]), "claim_form")
    assert [page.split() for page in doc.pages] == [["first"] * 5] and doc.unread_pages == 2
