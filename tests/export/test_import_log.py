"""import-log: a small hand-written log, a slice of a real one, bad input, and the command line around it."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from casework.audit.checkpoints import checkpoints
from casework.audit.verify import verify
from casework.cli import app
from casework.export.importlog import LogImportError, import_log
from casework.paths import shared_dir
from casework.store import Store

SMALL = """case_id,activity,timestamp,resource
A,Register,2020-01-01T10:00:00.000000,ann
A,Check,2020-01-01T11:00:00.000000,bob
A,Close,2020-01-02T09:30:00.000000,
B,Register,2020-01-03T08:00:00.000000,ann
B,Close,2020-01-03T08:05:00.000000,carol
"""


def _write_gz(path: Path, content: str) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(content)
    return path


def test_small_log_loads_as_closed_chained_cases(db_url: str, tmp_path: Path) -> None:
    log = _write_gz(tmp_path / "small.csv.gz", SMALL)
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        result = import_log(store, log, "intake")
        assert (result.cases, result.events, result.skipped) == (2, 7, 0)
        assert import_log(store, log, "intake").skipped == 2  # the same file again adds nothing
        assert store.counts() == (2, 7)
        case_id = store.case_id_for_business_key("small:A")
        assert case_id is not None
        row = store.case(case_id)
        assert row is not None and row.status == "completed" and row.source == "import"
        events = store.events(case_id)
        assert [e.type for e in events] == ["case_imported"] + ["imported_activity"] * 3
        assert [e.actor for e in events[1:]] == ["ann", "bob", "import"]
        assert verify(store).ok


@pytest.mark.parametrize(
    "content",
    [
        "case,activity,timestamp\nA,x,2020-01-01T00:00:00\n",
        "case_id,activity,timestamp\nA,x,yesterday\n",
        "case_id,activity,timestamp\nA,,2020-01-01T00:00:00\n",
    ],
)
def test_bad_log_changes_nothing(sqlite_url: str, tmp_path: Path, content: str) -> None:
    log = tmp_path / "bad.csv"
    log.write_text("case_id,activity,timestamp\nOK,x,2020-01-01T00:00:00\n" + content.split("\n", 1)[1]
                   if content.startswith("case_id") else content)
    with Store.open(sqlite_url) as store:
        with pytest.raises(LogImportError):
            import_log(store, log, "intake")
        assert store.counts() == (0, 0)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("A,x,2020-01-01T00:00:00," + "r" * 201, "line 3: resource is 201 characters long; at most 200"),
        ("A" * 300 + ",x,2020-01-01T00:00:00,ann", "line 3: case_id is 300 characters long; at most 295"),
    ],
    ids=["resource", "case id"],
)
def test_values_too_long_to_store_are_named_and_nothing_is_imported(
    db_url: str, tmp_path: Path, row: str, message: str
) -> None:
    # Both databases refuse alike: PostgreSQL's columns would have refused them half-way through the import.
    log = tmp_path / "long.csv"
    log.write_text(f"case_id,activity,timestamp,resource\nOK,x,2020-01-01T00:00:00,ann\n{row}\n")
    with Store.open(db_url) as store:
        with pytest.raises(LogImportError, match=message):
            import_log(store, log, "intake")
        assert store.counts() == (0, 0)


def test_columns_are_found_by_name_in_a_spreadsheet_export(sqlite_url: str, tmp_path: Path) -> None:
    log = tmp_path / "sheet.csv"
    log.write_bytes("\ufeffResource,Timestamp,Note,Case_ID,Activity\r\nann,2020-01-01T10:00:00,x,A,Register\r\n"
                    ",2020-01-01T11:00:00,y,A,Close\r\n".encode())
    with Store.open(sqlite_url, audit_key=tmp_path / "k") as store:
        assert import_log(store, log, "intake").cases == 1
        case_id = store.case_id_for_business_key("sheet:A")
        assert case_id is not None
        events = store.events(case_id)[1:]
        assert [(e.payload["activity"], e.actor) for e in events] == [("Register", "ann"), ("Close", "import")]


def test_slice_of_a_real_log(db_url: str, tmp_path: Path) -> None:
    root = shared_dir()
    if root is None or not (root / "logs" / "helpdesk.csv.gz").exists():
        pytest.skip("shared logs not available")
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        result = import_log(store, root / "logs" / "helpdesk.csv.gz", "helpdesk", limit=150)
        assert result.cases == 150 and result.events > 150
        assert verify(store).ok


def test_batches_of_long_cases_load_whole_and_each_is_sealed(db_url: str, tmp_path: Path) -> None:
    # 500 cases of 16 events are one batch of 8,500 event rows: as one INSERT on PostgreSQL that was 76,500 bound
    # parameters, past the protocol's 65,535 (bpic12 and sepsis failed to import there).
    lines = ["case_id,activity,timestamp,resource"]
    for case in range(600):
        lines += [f"c{case},step {n},2020-01-01T{n:02d}:{case % 60:02d}:00,r{n % 3}" for n in range(16)]
    log = _write_gz(tmp_path / "long.csv.gz", "\n".join(lines) + "\n")
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        result = import_log(store, log, "long")
        assert (result.cases, result.events) == (600, 600 * 17)
        assert store.counts() == (600, 600 * 17)
        case_id = store.case_id_for_business_key("long:c499")
        assert case_id is not None
        assert [e.payload["activity"] for e in store.events(case_id)[1:]] == [f"step {n}" for n in range(16)]
        with store.read() as conn:
            sealed = [cp.last_event_id for cp in checkpoints(conn)]
        assert len(sealed) == 2 and sealed[-1] == 600 * 17  # one checkpoint per batch of 500 cases
        report = verify(store)
        assert report.ok and report.sealed_events == 600 * 17


def test_cli_import_verify_export_and_tamper(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    log = _write_gz(tmp_path / "small.csv.gz", SMALL)
    runner = CliRunner()
    res = runner.invoke(app, ["import-log", str(log), "--definition", "intake", "--db", db])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["audit", "verify", "--db", db])
    assert res.exit_code == 0 and res.output.strip() == "audit: 2 cases, 7 events, ok"
    res = runner.invoke(app, ["export", "--format", "xes", "--db", db, "-o", str(tmp_path / "out.xes")])
    assert res.exit_code == 0 and (tmp_path / "out.xes").stat().st_size > 0
    with Store.open(db) as store, store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER events_no_update"))
        conn.execute(text("UPDATE events SET actor = 'mallory' WHERE seq = 2"))
    res = runner.invoke(app, ["audit", "verify", "--db", db])
    assert res.exit_code == 1 and "seq 2" in res.output and "edited" in res.output
    res = runner.invoke(app, ["import-log", str(tmp_path / "missing.csv"), "--definition", "x", "--db", db])
    assert res.exit_code == 1
