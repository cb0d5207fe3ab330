"""The expat reader gives what the iterparse reader it replaced gave: the same rows, the same count of events left
out, the same error after the same rows, on odd XES, broken XES and the same files cut short anywhere, however the
file falls into chunks. The old reader is kept here, as it was, as the oracle."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as DET
import pytest
from defusedxml import DefusedXmlException
from defusedxml.common import DTDForbidden

from casework.export import xes_read
from casework.export.xes_read import LeftOut, XesError, XesRow, xes_rows

# Outcome of reading a file: the rows given, the events left out, and the error's message (None if read to its end)
Outcome = tuple[list[XesRow], int, str | None]


def _old_event_row(event: Element, trace: int, name: str | None, number: int) -> tuple[str, str, str | None] | None:
    values: dict[str, str] = {}
    for attribute in event:
        key = attribute.get("key")
        if key in ("concept:name", "time:timestamp", "org:resource", "lifecycle:transition"):
            values[key] = attribute.get("value", "")
    transition = values.get("lifecycle:transition")
    if transition is not None and transition.strip().lower() != "complete":
        return None
    activity = values.get("concept:name", "").strip()
    if not activity:
        raise XesError(f"{xes_read._where(trace, name, number)}: no concept:name (the activity)")
    timestamp = values.get("time:timestamp", "").strip()
    if not timestamp:
        raise XesError(f"{xes_read._where(trace, name, number)}: no time:timestamp")
    return activity, timestamp, values.get("org:resource", "").strip() or None


def _old_rows(path: Path, left_out: LeftOut) -> Iterator[XesRow]:
    """`xes_rows` before the expat reader (commit 2784ea8), its error handling included."""
    with xes_read._open(path) as fh:
        try:
            yield from _old_tree_rows(fh, left_out)
        except DTDForbidden:
            raise XesError("refused: the file declares a document type (<!DOCTYPE ...>); an XES log needs none, "
                           "and casework reads none (it could expand entities or fetch other files)") from None
        except DefusedXmlException as exc:
            raise XesError(f"refused: {type(exc).__name__}") from None
        except ParseError as exc:
            raise XesError(f"not well-formed XML ({exc}): a file cut short, or not XES") from None


def _old_tree_rows(fh: object, left_out: LeftOut) -> Iterator[XesRow]:
    where = xes_read._where
    local = xes_read._local
    path: list[Element] = []
    traces = events = 0
    name: str | None = None
    waiting: list[tuple[str, str, str, str | None]] = []
    for kind, element in DET.iterparse(fh, events=("start", "end"), forbid_dtd=True):
        if kind == "start":
            if not path and local(element.tag) != "log":
                raise XesError(f"not an XES log: its root element is <{local(element.tag)}>, not <log>")
            if len(path) == 1 and local(element.tag) == "trace":
                traces, events, name = traces + 1, 0, None
            path.append(element)
            continue
        path.pop()
        depth = len(path)
        if depth > 2:
            continue
        tag = local(element.tag)
        if depth == 2:
            if tag == "event":
                events += 1
                row = _old_event_row(element, traces, name, events)
                if row is None:
                    left_out.events += 1
                else:
                    if name is None:
                        waiting.append((where(traces, None, events), *row))
                    else:
                        yield (where(traces, name, events), name, *row)
            elif element.get("key") == "concept:name":
                name = element.get("value", "").strip()
                if not name:
                    raise XesError(f"{where(traces, None)}: its concept:name (the case id) is empty")
                for at, activity, timestamp, resource in waiting:
                    yield at, name, activity, timestamp, resource
                waiting.clear()
        elif depth == 1:
            if tag == "trace" and name is None:
                raise XesError(f"{where(traces, None)}: no concept:name (the case id)")
            if tag == "event":
                raise XesError("an event outside any trace: it names no case")
        if depth:
            path[-1].remove(element)


def _read(rows: Iterator[XesRow], left_out: LeftOut) -> Outcome:
    got: list[XesRow] = []
    try:
        for row in rows:
            got.append(row)
    except XesError as exc:
        return got, left_out.events, str(exc)
    return got, left_out.events, None


def _old(path: Path) -> Outcome:
    left_out = LeftOut()
    return _read(_old_rows(path, left_out), left_out)


def _new(path: Path) -> Outcome:
    left_out = LeftOut()
    return _read(xes_rows(path, left_out), left_out)


def _ev(*attributes: str) -> str:
    return "<event>" + "".join(attributes) + "</event>\n"


def _s(key: str, value: str, tag: str = "string") -> str:
    return f'<{tag} key="{key}" value="{value}"/>'


T = 'date key="time:timestamp"'
# Every kind of thing an XES log holds, and some that none should but a file may: namespaces given, prefixed and
# left out; extensions, globals (whose concept:name names no trace), classifiers, log attributes, lists, containers,
# meta-attributes; transitions in any case and spacing; an attribute given twice; traces named late or twice;
# character and entity references, CDATA, comments and processing instructions.
ODD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<!-- written by hand -->\n<?xes-tool ignored?>\n'
    '<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">\n'
    '<extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
    '<global scope="trace"><string key="concept:name" value="__INVALID__"/></global>\n'
    '<global scope="event"><string key="concept:name" value="__INVALID__"/>'
    '<string key="org:resource" value="nobody"/><date key="time:timestamp" value="1970-01-01T00:00:00Z"/></global>\n'
    '<classifier name="Activity" keys="concept:name lifecycle:transition"/>\n'
    + _s("concept:name", "the log") + '<list key="concept:name"><values>' + _s("concept:name", "x") + "</values></list>"
    + '<container key="meta">' + _s("org:resource", "r") + "</container>\n"
    # a trace named first, its events as varied as attributes go
    + '<trace><string key="concept:name" value="A &amp; B"><string key="concept:name" value="meta"/></string>\n'
    + _ev(_s("concept:name", "Register"), _s("lifecycle:transition", "start"), f'<{T} value="2020-01-01T10:00:00Z"/>')
    + _ev(_s("concept:name", "Register"), _s("lifecycle:transition", "complete"), _s("org:resource", "ann"),
          f'<{T} value="2020-01-01T10:05:00.123+01:00"/>')
    + _ev(_s("concept:name", " Check\t"), _s("lifecycle:transition", " COMPLETE "), _s("org:resource", "   "),
          f'<{T} value=" 2020-01-01T11:00:00 "/>')
    + _ev(_s("concept:name", "caf&#233; &lt;x&gt;"), _s("org:resource", "b&#x00F6;b"), f'<{T} value="2020-01-02"/>',
          _s("concept:name", "renamed"), '<int key="cost" value="10"/><boolean key="ok" value="true"/>')
    + _ev('<string key="concept:name" value="Pay">' + _s("concept:name", "meta name") + "</string>",
          '<list key="items"><values>' + _s("concept:name", "in a list") + _s("org:resource", "listed")
          + "</values></list>", '<container key="c">' + _s("time:timestamp", "1999-01-01", "date") + "</container>",
          f'<{T} value="2020-01-03T00:00:00.000-05:00"/>')
    + _ev(_s("concept:name", "Auto"), _s("lifecycle:transition", "autoskip"))  # left out, so not checked
    + _ev(_s("concept:name", "Wait"), _s("lifecycle:transition", "Schedule"), f'<{T} value="2020-01-04"/>')
    + _ev(_s("concept:name", "Split\nline"), f'<{T} value="2020-01-05T00:00:00Z"/>', _s("org:resource", "first"),
          _s("org:resource", "second"))
    + "<!-- a comment between events --><?pi inside?>\n"
    + _ev(_s("concept:name", "Note"), "<![CDATA[ text <not> markup ]]> and text", f'<{T} value="2020-01-06"/>')
    + "</trace>\n"
    # a trace named after its events, then renamed after more
    + "<trace>" + _ev(_s("concept:name", "Open"), f'<{T} value="2021-01-01T00:00:00Z"/>')
    + _ev(_s("concept:name", "Open"), _s("lifecycle:transition", "start"), f'<{T} value="2021-01-01T00:00:00Z"/>')
    + _s("concept:name", "late") + _ev(_s("concept:name", "Mid"), f'<{T} value="2021-01-02T00:00:00Z"/>')
    + '<string key="concept:name" value=" renamed\ttrace "/>'
    + _ev(_s("concept:name", "Shut"), f'<{T} value="2021-01-03T00:00:00Z"/>') + "</trace>\n"
    # prefixed namespace, and a trace whose name is an element of another type
    + '<x:trace xmlns:x="http://www.xes-standard.org/"><x:id key="concept:name" value="prefixed"/>'
    + '<x:event><x:string key="concept:name" value="P"/><x:date key="time:timestamp" value="2022-01-01"/></x:event>'
    + "</x:trace>\n"
    # a trace of transitions other than complete only: no rows, all left out
    + "<trace>" + _s("concept:name", "started only")
    + _ev(_s("concept:name", "S"), _s("lifecycle:transition", "start"), f'<{T} value="2022-02-02"/>') + "</trace>\n"
    + "<trace>" + _s("concept:name", "last") + "<trace>" + _s("concept:name", "nested trace") + "</trace>"
    + _ev(_s("concept:name", "End"), f'<{T} value="2023-02-02"/>') + "</trace>\n"
    + "</log>\n"
)

BROKEN = {
    "unnamed trace": ODD.replace("<trace>" + _s("concept:name", "last"), "<trace>"),
    "empty trace name": ODD.replace(_s("concept:name", "started only"), _s("concept:name", " \t ")),
    "list as trace name": ODD.replace(_s("concept:name", "started only"),
                                      '<list key="concept:name"><values/></list>'),
    "event without name": ODD.replace(_s("concept:name", "Mid"), _s("concept:name", "")),
    "event without time": ODD.replace(f'<{T} value="2023-02-02"/>', ""),
    "event outside a trace": ODD.replace("</log>", _ev(_s("concept:name", "Stray"), f'<{T} value="2023-01-01"/>')
                                         + "</log>"),
    "root not a log": "<logs>" + ODD.split("<log", 1)[1].split(">", 1)[1].replace("</log>", "</logs>"),
    "mismatched tag": ODD.replace("</x:trace>", "</x:trice>"),
    "undefined entity": ODD.replace("A &amp; B", "A &nbsp; B"),
    "unbound prefix": ODD.replace("<x:trace xmlns:x=", "<x:trace xmlns:z="),
    "junk after the log": ODD + "<log/>",
    "text after the log": ODD + "trailing",
    "internal DTD": ODD.replace("<!-- written", '<!DOCTYPE log [<!ENTITY e "x">]>\n<!-- written'),
    "external DTD": ODD.replace("<!-- written", '<!DOCTYPE log SYSTEM "file:///etc/passwd">\n<!-- written'),
    "empty": "",
    "blank": " \n",
}


def _write(tmp_path: Path, text: str | bytes, name: str = "log.xes") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@pytest.fixture(params=[1, 61, xes_read._CHUNK], ids=["chunks of 1", "chunks of 61", "default chunks"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Where the file's chunks break must not matter: in the middle of a name, a value, a reference."""
    monkeypatch.setattr(xes_read, "_CHUNK", request.param)
    return int(request.param)


def test_an_odd_log_gives_the_same_rows(tmp_path: Path, chunk: int) -> None:
    path = _write(tmp_path, ODD)
    expected = _old(path)
    assert expected[2] is None and len(expected[0]) == 11 and expected[1] == 5  # as the document was written to hold
    assert _new(path) == expected


def test_in_other_encodings_gzipped_or_in_another_namespace_the_same(tmp_path: Path) -> None:
    latin = ODD.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("Register", "Régistre")
    foreign = ODD.replace("<log ", '<y:log xmlns:y="urn:other" ').replace("</log>", "</y:log>")
    for path in (_write(tmp_path, latin.encode("latin-1"), "latin.xes"),
                 _write(tmp_path, b"\xef\xbb\xbf" + ODD.encode("utf-8"), "bom.xes"),
                 _write(tmp_path, ODD.replace('"UTF-8"', '"UTF-16"').encode("utf-16"), "utf16.xes"),
                 _write(tmp_path, gzip.compress(ODD.encode("utf-8")), "log.xes.gz"),
                 _write(tmp_path, foreign, "foreign.xes")):
        expected = _old(path)
        assert expected[2] is None and len(expected[0]) == 11, path.name
        assert _new(path) == expected, path.name


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_log_gives_the_same_rows_then_the_same_error(tmp_path: Path, chunk: int, kind: str) -> None:
    path = _write(tmp_path, BROKEN[kind])
    expected = _old(path)
    assert expected[2] is not None, kind
    assert _new(path) == expected


def test_a_log_cut_short_anywhere_gives_the_same_rows_and_error(tmp_path: Path) -> None:
    data = ODD.encode("utf-8")
    cut = {n: _write(tmp_path, data[:n], f"cut{n}.xes") for n in range(0, len(data), 5)}
    differ = [n for n, path in cut.items() if _new(path) != _old(path)]
    assert not differ, differ
