"""Reading XES logs as import-log's rows: what is a row, what is refused, and that the tree is dropped as it is read."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path
from xml.parsers import expat

import pytest
from defusedxml.common import EntitiesForbidden, ExternalReferenceForbidden

from casework.export import xes_read
from casework.export.xes_read import XesError, is_xml, xes_rows

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">\n'


def _event(name: str | None, at: str | None, resource: str | None = None, transition: str | None = None) -> str:
    parts = []
    if name is not None:
        parts.append(f'<string key="concept:name" value="{name}"/>')
    if transition is not None:
        parts.append(f'<string key="lifecycle:transition" value="{transition}"/>')
    if resource is not None:
        parts.append(f'<string key="org:resource" value="{resource}"/>')
    if at is not None:
        parts.append(f'<date key="time:timestamp" value="{at}"/>')
    return "<event>" + "".join(parts) + "</event>\n"


def _trace(name: str | None, *events: str) -> str:
    named = "" if name is None else f'<string key="concept:name" value="{name}"/>'
    return f"<trace>{named}\n{''.join(events)}</trace>\n"


def _xes(tmp_path: Path, *traces: str, head: str = HEAD, file: str = "log.xes") -> Path:
    path = tmp_path / file
    path.write_text(head + "".join(traces) + "</log>\n", encoding="utf-8")
    return path


def _rows(path: Path) -> list[tuple[str, str, str, str | None]]:
    return [row[1:] for row in xes_rows(path)]


def test_completed_events_are_rows_and_other_transitions_are_not(tmp_path: Path) -> None:
    path = _xes(tmp_path, _trace(
        "A",
        _event("Register", "2020-01-01T10:00:00.000+01:00", "ann", "start"),
        _event("Register", "2020-01-01T10:05:00.000+01:00", "ann", "complete"),
        # BPI logs write the transitions in capitals
        _event("Check", "2020-01-01T11:00:00Z", "bob", "COMPLETE"),
        _event("Check", None, None, "schedule"),  # not a row, so not checked either
        _event("Close", "2020-01-02T09:30:00", None),  # no transition: a row, as a CSV log's are
    ))
    assert _rows(path) == [
        ("A", "Register", "2020-01-01T10:05:00.000+01:00", "ann"),
        ("A", "Check", "2020-01-01T11:00:00Z", "bob"),
        ("A", "Close", "2020-01-02T09:30:00", None),
    ]


def test_positions_name_the_trace_and_the_event(tmp_path: Path) -> None:
    path = _xes(tmp_path, _trace("A", _event("x", "2020-01-01T00:00:00", transition="start"),
                                 _event("x", "2020-01-01T00:00:00")))
    assert [row[0] for row in xes_rows(path)] == ["trace 1 ('A'), event 2"]


def test_only_the_events_own_attributes_count(tmp_path: Path) -> None:
    # A meta-attribute (an attribute of an attribute) named like the standard ones, a list, a global default and an
    # attribute no extension defines: none of them is the event's name, time or resource.
    head = HEAD + ('<global scope="event"><string key="org:resource" value="default"/></global>\n'
                   '<string key="concept:name" value="the log"/>\n')
    event = ('<event><string key="concept:name" value="Pay"><string key="concept:name" value="meta"/></string>'
             '<list key="items"><values><string key="concept:name" value="in a list"/></values></list>'
             '<int key="amount" value="10"/>'
             '<date key="time:timestamp" value="2020-01-01T00:00:00Z"/></event>\n')
    path = _xes(tmp_path, _trace("A", event), head=head)
    assert _rows(path) == [("A", "Pay", "2020-01-01T00:00:00Z", None)]


def test_a_trace_named_after_its_events_and_a_log_without_namespace(tmp_path: Path) -> None:
    head = '<log xes.version="1.0">\n'
    trace = ("<trace>" + _event("Open", "2020-01-01T00:00:00Z") + _event("Shut", "2020-01-01T01:00:00Z")
             + '<string key="concept:name" value="late"/></trace>\n')
    path = _xes(tmp_path, trace, _trace("next", _event("Open", "2020-01-02T00:00:00Z")), head=head)
    assert _rows(path) == [("late", "Open", "2020-01-01T00:00:00Z", None), ("late", "Shut", "2020-01-01T01:00:00Z",
                                                                           None),
                           ("next", "Open", "2020-01-02T00:00:00Z", None)]


@pytest.mark.parametrize(
    ("traces", "message"),
    [
        ((_trace("A", _event("x", "2020-01-01T00:00:00Z")), _trace(None, _event("y", "2020-01-01T00:00:00Z"))),
         "trace 2: no concept:name (the case id)"),
        ((_trace(" ", _event("x", "2020-01-01T00:00:00Z")),), "trace 1: its concept:name (the case id) is empty"),
        ((_trace("A", _event("x", "2020-01-01T00:00:00Z"), _event(None, "2020-01-01T00:00:00Z")),),
         "trace 1 ('A'), event 2: no concept:name (the activity)"),
        ((_trace("A", _event("x", None, transition="complete")),), "trace 1 ('A'), event 1: no time:timestamp"),
        (("<event/>",), "an event outside any trace: it names no case"),
        # inside a log-level element that is not a trace (it was read as an event of the trace before it)
        ((_trace("A", _event("x", "2020-01-01T00:00:00Z")), f'<group key="g">{_event("y", "2020-01-02T00:00:00Z")}'
          "</group>"), "an event outside any trace: it names no case"),
    ],
    ids=["trace without name", "empty trace name", "event without name", "event without time", "event outside",
         "event in a group"],
)
def test_what_cannot_be_a_row_is_named(tmp_path: Path, traces: tuple[str, ...], message: str) -> None:
    with pytest.raises(XesError) as raised:
        _rows(_xes(tmp_path, *traces))
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
         '<log><trace><string key="concept:name" value="&b;"/></trace></log>\n',
         "refused: the file declares a document"),
        ('<?xml version="1.0"?>\n<!DOCTYPE log SYSTEM "http://example.invalid/xes.dtd">\n<log/>\n',
         "refused: the file declares a document"),
        (HEAD + _trace("A", _event("x", "2020-01-01T00:00:00Z"))[:-20], "not well-formed XML (unclosed token: line 4"),
        ("<claims><claim/></claims>\n", "not an XES log: its root element is <claims>, not <log>"),
    ],
    ids=["entity expansion", "external DTD", "cut short", "not XES"],
)
def test_hostile_and_broken_files_are_refused_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.xes"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(XesError) as raised:
        _rows(path)
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_xml_is_told_from_csv_by_its_first_bytes(tmp_path: Path) -> None:
    plain = tmp_path / "named.csv"
    plain.write_bytes(b"\xef\xbb\xbf\n  \r\n<log/>")  # a byte order mark and blank lines first
    zipped = tmp_path / "no-suffix"
    with gzip.open(zipped, "wb") as fh:
        fh.write(b"<?xml version='1.0'?><log/>")
    csv = tmp_path / "named.xes"
    csv.write_text("case_id,activity,timestamp\n")
    assert (is_xml(plain), is_xml(zipped), is_xml(csv)) == (True, True, False)


def _peak_while_read(path: Path) -> int:
    """The most memory Python held above what it held before, while the log's rows were read and let go."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rows = sum(1 for _ in xes_rows(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows
    return peak - base


def test_memory_does_not_grow_with_the_log(tmp_path: Path) -> None:
    events = "".join(_event(f"step {n}", f"2020-01-01T00:00:{n:02d}Z", "ann") for n in range(20))
    small = _xes(tmp_path, *(_trace(f"case {n}", events) for n in range(250)), file="small.xes")
    large = _xes(tmp_path, *(_trace(f"case {n}", events) for n in range(2_000)), file="large.xes")
    # 40,000 rows in the large log, some 8 MB of them held; read as a stream, what is held is a chunk's rows and the
    # parser's buffers, the same for either log.
    small_peak, large_peak = _peak_while_read(small), _peak_while_read(large)
    assert large_peak < 2 * 2**20 and large_peak < 1.5 * small_peak + 2**18, (small_peak, large_peak)


def test_were_a_document_type_let_through_its_entities_and_external_files_are_refused_still() -> None:
    # The first guard refuses any DOCTYPE (tested above through xes_rows); these are defusedxml's others, behind it.
    with_entity = b'<!DOCTYPE log [<!ENTITY a "aaaa">]><log>&a;</log>'
    with_external_subset = b'<!DOCTYPE log SYSTEM "file:///etc/passwd"><log/>'
    parser = xes_read._parser()
    parser.StartDoctypeDeclHandler = None
    with pytest.raises(EntitiesForbidden):
        parser.Parse(with_entity, True)
    parser = xes_read._parser()
    parser.StartDoctypeDeclHandler = None
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_ALWAYS)  # so that expat asks for the subset
    with pytest.raises(ExternalReferenceForbidden):
        parser.Parse(with_external_subset, True)
