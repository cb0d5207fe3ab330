"""import-log of XES logs: casework's own export read back, gzip, lifecycle pairs, and files refused whole."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.audit.verify import verify
from casework.cli import app
from casework.engine import commands
from casework.export import export
from casework.export.activities import activities, parse_at
from casework.export.importlog import LogImportError, import_log
from casework.paths import shared_dir
from casework.service import CaseService
from casework.store import Store

TASKS = ("Review claim", "Request documents", "Assess damage", "Close claim")
HISTORY = """case_id,activity,timestamp,resource
A,Register,2020-01-01T10:00:00.123456,ann
A,Check,2020-01-01T11:00:00+02:00,
B,Register,2020-01-03T08:00:00,carol
"""
HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1849-2016" xmlns="http://www.xes-standard.org/">\n'
PAIRS = HEAD + """<trace><string key="concept:name" value="c1"/>
<event><string key="concept:name" value="Review"/><string key="lifecycle:transition" value="start"/>
<string key="org:resource" value="ann"/><date key="time:timestamp" value="2024-05-01T09:00:00.000+02:00"/></event>
<event><string key="concept:name" value="Review"/><string key="lifecycle:transition" value="complete"/>
<string key="org:resource" value="ann"/><date key="time:timestamp" value="2024-05-01T09:30:00.000+02:00"/></event>
<event><string key="concept:name" value="Pay"/><string key="lifecycle:transition" value="start"/>
<date key="time:timestamp" value="2024-05-01T10:00:00.000+02:00"/></event>
<event><string key="concept:name" value="Pay"/><string key="lifecycle:transition" value="complete"/>
<date key="time:timestamp" value="2024-05-01T10:15:00.000+02:00"/></event>
</trace>
</log>
"""


def _ms(value: datetime) -> datetime:
    """XES times are written to the millisecond."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _completed(store: Store) -> dict[str, list[tuple[str, datetime, str | None]]]:
    """Each case's completed activities as the export gives them: (activity, time, resource)."""
    cases: dict[str, list[tuple[str, datetime, str | None]]] = {}
    for a in activities(store.iter_events(order="case")):
        if a.transition == "complete":
            cases.setdefault(a.case_id, []).append((a.activity, _ms(a.time), a.resource))
    return cases


def _imported(store: Store, key: str) -> list[tuple[str, datetime, str | None]]:
    case_id = store.case_id_for_business_key(key)
    assert case_id is not None, key
    return [(e.payload["activity"], parse_at(e.at), e.payload["resource"])
            for e in store.events(case_id, types=["imported_activity"])]


def test_an_xes_export_imported_into_a_new_store_has_the_same_activities_times_and_resources(
    db_url: str, tmp_path: Path
) -> None:
    root = shared_dir()
    if root is None:
        pytest.skip("shared corpus not available")
    with Store.open(f"sqlite:///{tmp_path / 'source.db'}", audit_key=tmp_path / "k1") as source:
        svc = CaseService(source)
        svc.deploy((root / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
        for n in range(3):
            case_id = svc.start_case("claim", {"amount": 10}, actor="intake").case_id
            for name in TASKS[: n + 2]:
                svc.execute(case_id, commands.CompleteItem(item=name, actor=f"worker{n}"))
        history = tmp_path / "history.csv"
        history.write_text(HISTORY)
        import_log(source, history, "intake")  # rows without a resource, times with and without an offset
        exported = tmp_path / "claims.xes"
        assert export(source, "xes", exported)[0] == 5
        original = _completed(source)
    assert len(original) == 5 and sum(map(len, original.values())) == 2 + 3 + 4 + 3
    with Store.open(db_url, audit_key=tmp_path / "k2") as store:
        result = import_log(store, exported, "claim")
        assert (result.cases, result.events - result.cases, result.skipped) == (5, 12, 0)
        for case_id, rows in original.items():
            assert _imported(store, f"claims:{case_id}") == rows
        assert verify(store).ok


def test_a_gzip_xes_named_anything_is_read_as_xes(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "pairs.log.gz"  # told by its content, not its name
    with gzip.open(log, "wt", encoding="utf-8") as fh:
        fh.write(PAIRS)
    with Store.open(sqlite_url) as store:
        assert import_log(store, log, "k").cases == 1
        assert store.case_id_for_business_key("pairs.log:c1") is not None


def test_lifecycle_pairs_import_only_their_completions_and_twice_adds_nothing(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "pairs.xes"
    log.write_text(PAIRS)
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        result = import_log(store, log, "k")
        assert (result.cases, result.events) == (1, 3)  # case_imported and the two completions
        assert _imported(store, "pairs:c1") == [("Review", parse_at("2024-05-01T07:30:00+00:00"), "ann"),
                                                ("Pay", parse_at("2024-05-01T08:15:00+00:00"), None)]
        again = import_log(store, log, "k")
        assert (again.cases, again.events, again.skipped) == (0, 0, 1)
        assert store.counts() == (1, 3)


HOSTILE = {
    "entity expansion": '<?xml version="1.0"?>\n<!DOCTYPE log [<!ENTITY a "aaaaaaaaaa">'
                        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n'
                        '<log><trace><string key="concept:name" value="&c;"/><event>'
                        '<string key="concept:name" value="x"/>'
                        '<date key="time:timestamp" value="2020-01-01T00:00:00Z"/>'
                        "</event></trace></log>\n",
    "external DTD": '<?xml version="1.0"?>\n<!DOCTYPE log SYSTEM "file:///etc/passwd">\n' + PAIRS.split("\n", 1)[1],
    "cut short": PAIRS[: PAIRS.index("</trace>")],
    "truncated tag": PAIRS[:-12],
    "no name": PAIRS.replace('<string key="concept:name" value="Pay"/><string key="lifecycle:transition" '
                             'value="complete"/>', '<string key="lifecycle:transition" value="complete"/>'),
    "bad time": PAIRS.replace("2024-05-01T10:15:00.000+02:00", "tomorrow"),
    "long resource": PAIRS.replace('value="ann"', f'value="{"r" * 201}"'),
}
MESSAGES = {
    "entity expansion": "refused: the file declares a document type",
    "external DTD": "refused: the file declares a document type",
    "cut short": "not well-formed XML (no element found",
    "truncated tag": "not well-formed XML (",
    "no name": "trace 2 ('c1'), event 4: no concept:name (the activity)",
    "bad time": "trace 2 ('c1'), event 4: timestamp 'tomorrow' is not ISO-8601",
    "long resource": "trace 2 ('c1'), event 2: resource is 201 characters long; at most 200",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_a_hostile_or_broken_xes_is_refused_in_one_line_with_nothing_written(
    sqlite_url: str, tmp_path: Path, kind: str
) -> None:
    log = tmp_path / "bad.xes"
    # A good trace first: the rows read before the fault are not kept
    log.write_text(HOSTILE[kind].replace("<trace>", '<trace><string key="concept:name" value="good"/><event>'
                                         '<string key="concept:name" value="x"/><date key="time:timestamp" '
                                         'value="2020-01-01T00:00:00Z"/></event></trace>\n<trace>', 1))
    with Store.open(sqlite_url) as store:
        with pytest.raises(LogImportError) as raised:
            import_log(store, log, "k")
        assert MESSAGES[kind] in str(raised.value) and "\n" not in str(raised.value)
        assert store.counts() == (0, 0)
    # The command reads the file before it opens the store: no database is made
    db = tmp_path / "new.db"
    res = CliRunner().invoke(app, ["import-log", str(log), "--definition", "k", "--db", f"sqlite:///{db}"])
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and MESSAGES[kind] in res.stderr, res.stderr
    assert not db.exists()


def test_an_xes_log_of_no_completed_event_is_refused_saying_why(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "started.xes"
    log.write_text(PAIRS.replace('value="complete"', 'value="start"'))
    with Store.open(sqlite_url) as store:
        with pytest.raises(LogImportError, match=r"no events to import .* only the complete ones are"):
            import_log(store, log, "k")
        assert store.counts() == (0, 0)


def test_import_log_says_how_many_events_of_other_transitions_it_left_out(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "pairs.xes"
    log.write_text(PAIRS)
    result = CliRunner().invoke(app, ["import-log", str(log), "--definition", "k", "--db", sqlite_url],
                                env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("import-log: 1 cases, 3 events imported")
    left_out = PAIRS.count("<event>") - 2  # all but the two completions
    assert f"import-log: {left_out} events of other lifecycle transitions than complete" in result.stderr
    csv_log = tmp_path / "plain.csv"
    csv_log.write_text("case_id,activity,timestamp\nc1,Open,2026-01-01T09:00:00\n")
    plain = CliRunner().invoke(app, ["import-log", str(csv_log), "--definition", "k", "--db", sqlite_url],
                               env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert plain.exit_code == 0 and "left out" not in plain.stderr, plain.output
