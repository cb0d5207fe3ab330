"""import-log: a small hand-written log, a slice of a real one, bad input, and the command line around it."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from casework.audit.checkpoints import checkpoints
from casework.audit.verify import verify
from casework.cli import app
from casework.export import importlog
from casework.export.importlog import LogImportError, import_log
from casework.paths import shared_dir
from casework.store import NewEvent, Store

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


def test_an_imported_case_started_and_last_changed_when_its_log_says(db_url: str, tmp_path: Path) -> None:
    # Stamped with the time of the import, a case of 2020 was listed by `cases` as started today, the newest.
    log = _write_gz(tmp_path / "small.csv.gz", SMALL)
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        import_log(store, log, "intake")
        rows = {key: store.case(store.case_id_for_business_key(f"small:{key}") or "") for key in "AB"}
        assert {key: (row.created_at, row.updated_at) for key, row in rows.items() if row is not None} == {
            "A": (datetime(2020, 1, 1, 10, 0, tzinfo=UTC), datetime(2020, 1, 2, 9, 30, tzinfo=UTC)),
            "B": (datetime(2020, 1, 3, 8, 0, tzinfo=UTC), datetime(2020, 1, 3, 8, 5, tzinfo=UTC)),
        }


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
    assert res.exit_code == 2


def _nul_log(tmp_path: Path, column: str) -> Path:
    # 700 cases, the NUL in the 601st: past the first batch of 500, which PostgreSQL had committed before failing.
    lines = ["case_id,activity,timestamp,resource"]
    for n in range(700):
        case, activity, resource = f"c{n}", "A", "ann"
        if n == 600:
            case, activity, resource = {"case_id": ("c\x00600", activity, resource),
                                        "activity": (case, "A\x00", resource),
                                        "resource": (case, activity, "an\x00n")}[column]
        lines.append(f"{case},{activity},2024-01-01T10:00:00,{resource}")
    log = tmp_path / "nul.csv"
    log.write_text("\n".join(lines) + "\n")
    return log


@pytest.mark.parametrize("column", ["case_id", "activity", "resource"])
def test_a_nul_character_is_refused_before_anything_is_written(db_url: str, tmp_path: Path, column: str) -> None:
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        with pytest.raises(LogImportError, match=f"^line 602: {column} contains a NUL character$"):
            import_log(store, _nul_log(tmp_path, column), "intake")
        assert store.counts() == (0, 0)


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [
        ("0001-01-01T00:00:00+01:00", "is out of range"),  # year 0 in UTC
        ("9999-12-31T23:30:00-01:00", "is out of range"),  # year 10000 in UTC
        ("yesterday", "is not ISO-8601"),
    ],
)
def test_a_timestamp_that_cannot_be_stored_in_utc_is_a_line_numbered_error(
    db_url: str, tmp_path: Path, timestamp: str, message: str
) -> None:
    log = tmp_path / "times.csv"
    log.write_text(f"case_id,activity,timestamp\nOK,x,2020-01-01T00:00:00\nA,x,{timestamp}\n")
    with Store.open(db_url) as store:
        with pytest.raises(LogImportError, match=re.escape(f"line 3: timestamp '{timestamp}' {message}")):
            import_log(store, log, "intake")
        assert store.counts() == (0, 0)


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_below_one_is_refused(db_url: str, tmp_path: Path, limit: int) -> None:
    log = _write_gz(tmp_path / "small.csv.gz", SMALL)
    with Store.open(db_url) as store:
        with pytest.raises(LogImportError, match=f"at least 1 case, not {limit}"):
            import_log(store, log, "intake", limit=limit)
        assert store.counts() == (0, 0)
    res = CliRunner().invoke(app, ["import-log", str(log), "--definition", "intake", "--db", db_url,
                                   "--limit", str(limit)])
    assert res.exit_code == 2 and "--limit" in res.output
    with Store.open(db_url) as store:
        assert store.counts() == (0, 0)


def test_rows_out_of_time_order_are_imported_in_time_order(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "unsorted.csv"
    log.write_text("case_id,activity,timestamp,resource\n"
                   "A,Close,2020-01-01T12:00:00,ann\n"
                   "A,Register,2020-01-01T10:00:00+01:00,bob\n"  # 09:00 UTC, the earliest
                   "A,Check,2020-01-01T10:00:00,cy\n"
                   "A,Approve,2020-01-01T10:00:00,dee\n"  # same time as Check: after it, as in the file
                   "B,Register,2020-01-02T10:00:00,ann\n")
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        result = import_log(store, log, "intake")
        assert (result.cases, result.reordered) == (2, 1)
        case_id = store.case_id_for_business_key("unsorted:A")
        assert case_id is not None
        events = store.events(case_id)
        assert events[0].type == "case_imported" and events[0].at == "2020-01-01T09:00:00+00:00"
        assert [(e.payload["activity"], e.at[11:16]) for e in events[1:]] == [
            ("Register", "09:00"), ("Check", "10:00"), ("Approve", "10:00"), ("Close", "12:00")]
        assert verify(store).ok
        assert import_log(store, log, "intake").skipped == 2  # the same file again is still the same cases
    log.rename(tmp_path / "again.csv")
    res = CliRunner().invoke(app, ["import-log", str(tmp_path / "again.csv"), "--definition", "intake",
                                   "--db", db_url], env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == ("import-log: 2 cases, 7 events imported, 0 already present; 1 cases had rows "
                                  "out of time order (imported in time order)")


def _store_without_digests(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import as casework did before it recorded each case's digest."""

    def new_event(type: str, at: str, actor: str, reason: str | None, payload: dict[str, object]) -> NewEvent:
        return NewEvent(type, at, actor, reason, {k: v for k, v in payload.items() if k != "rows_sha256"})

    monkeypatch.setattr(importlog, "NewEvent", new_event)


@pytest.mark.parametrize("legacy", [False, True], ids=["digest", "before-digests"])
def test_a_different_log_with_the_same_name_is_refused_not_skipped(
    db_url: str, tmp_path: Path, legacy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = tmp_path / "a" / "log.csv"
    first.write_text("case_id,activity,timestamp,resource\nc1,A,2024-01-01T10:00:00,ann\n"
                     "c1,B,2024-01-01T09:00:00,ann\nc2,A,2024-01-01T10:00:00,\n")
    other = tmp_path / "b" / "log.csv"
    other.write_text("case_id,activity,timestamp,resource\nc2,A,2024-01-01T10:00:00,\nc1,X,2025-01-01T10:00:00,zed\n")
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        with monkeypatch.context() as m:
            if legacy:
                _store_without_digests(m)
            assert import_log(store, first, "intake").cases == 2
        assert import_log(store, first, "intake").skipped == 2  # the same file again: nothing to add
        with pytest.raises(LogImportError) as refused:
            import_log(store, other, "intake")
        assert str(refused.value).startswith("case 'c1': its key 'log:c1' is taken by a stored case with other events")
        assert "--name" in str(refused.value)
        assert store.counts() == (2, 5)
        result = import_log(store, other, "intake", name="log-b")
        assert (result.cases, result.skipped) == (2, 0)
        case_id = store.case_id_for_business_key("log-b:c1")
        assert case_id is not None
        assert [e.payload["activity"] for e in store.events(case_id)[1:]] == ["X"]
        assert verify(store).ok


def test_names_and_case_ids_that_spell_the_same_key_are_refused(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("case_id,activity,timestamp\nb:1,A,2024-01-01T10:00:00\n")
    (tmp_path / "a:b.csv").write_text("case_id,activity,timestamp\n1,Z,2025-01-01T10:00:00\n")
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        assert import_log(store, tmp_path / "a.csv", "intake").cases == 1
    key = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    res = CliRunner().invoke(app, ["import-log", str(tmp_path / "a:b.csv"), "--definition", "intake",
                                   "--db", db_url], env=key)
    assert res.exit_code == 2
    assert "case '1': its key 'a:b:1' is taken" in res.stderr and "--name" in res.stderr
    res = CliRunner().invoke(app, ["import-log", str(tmp_path / "a:b.csv"), "--definition", "intake",
                                   "--db", db_url, "--name", "ab"], env=key)
    assert res.exit_code == 0, res.output
    with Store.open(db_url) as store:
        assert store.counts() == (2, 4)
        assert store.case_id_for_business_key("ab:1") is not None


def test_a_missing_audit_key_of_a_sealed_database_stops_the_import_before_it_writes(
    sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "first.csv"
    log.write_text("case_id,activity,timestamp\nc1,Open,2026-01-01T09:00:00\n")
    sealing = {"CASEWORK_AUDIT_KEY": str(tmp_path / "sealing.key")}
    assert CliRunner().invoke(app, ["import-log", str(log), "--definition", "k", "--db", sqlite_url],
                              env=sealing).exit_code == 0
    second = tmp_path / "second.csv"
    second.write_text("case_id,activity,timestamp\nc2,Open,2026-01-01T09:00:00\n")
    lost = tmp_path / "lost.key"
    result = CliRunner().invoke(app, ["import-log", str(second), "--definition", "k", "--db", sqlite_url],
                                env={"CASEWORK_AUDIT_KEY": str(lost)})
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    assert f"error: no audit key at {lost}, but this database's checkpoints were signed" in result.output
    assert result.output.rstrip().endswith("nothing was imported")
    assert not lost.exists()
    with Store.open(sqlite_url, audit_key=tmp_path / "sealing.key") as store:
        assert store.counts() == (1, 2)  # the first log only: nothing of the second was written unsealed


def test_an_import_racing_another_import_of_the_same_log_skips_what_the_other_wrote(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "race.csv"
    log.write_text("case_id,activity,timestamp\n" + "".join(
        f"c{n},Open,2026-01-01T09:00:00\nc{n},Close,2026-01-01T10:00:0{n}\n" for n in range(3)))
    monkeypatch.setattr(importlog, "BATCH_CASES", 1)  # a batch per case, so the other import lands between two
    with Store.open(db_url, audit_key=tmp_path / "k") as store, Store.open(db_url, audit_key=tmp_path / "k") as other:
        others: list[importlog.ImportResult] = []

        def after_batch(_n: int) -> None:
            if not others:  # another process runs the same import now, after this one checked its keys
                others.append(import_log(other, log, "intake"))

        mine = import_log(store, log, "intake", progress=after_batch)
        assert (others[0].cases, others[0].skipped) == (2, 1)
        assert (mine.cases, mine.events, mine.skipped) == (1, 3, 2)  # before: IntegrityError on the business key
        assert store.counts() == (3, 9) and verify(store, snapshots=False).ok


def test_a_batch_left_unsealed_by_an_interrupted_import_is_sealed_by_the_run_that_completes_it(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "cut.csv"
    log.write_text("case_id,activity,timestamp\nc1,Open,2026-01-01T09:00:00\nc2,Open,2026-01-01T09:00:00\n")
    sealing = importlog.write_checkpoint

    def interrupted(*args: object) -> None:  # Ctrl-C right after the batch committed, before it was sealed
        raise KeyboardInterrupt

    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        monkeypatch.setattr(importlog, "write_checkpoint", interrupted)
        with pytest.raises(KeyboardInterrupt):
            import_log(store, log, "intake")
        monkeypatch.setattr(importlog, "write_checkpoint", sealing)
        assert verify(store, snapshots=False).sealed_events == 0
        again = import_log(store, log, "intake")
        assert (again.cases, again.skipped) == (0, 2)
        report = verify(store, snapshots=False)
        assert report.ok and report.sealed_events == report.events == 4  # before: left unsealed


def test_rows_repeated_exactly_are_imported_as_given_and_counted_on_stderr(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "twice.csv"
    log.write_text("case_id,activity,timestamp,resource\n"
                   "A,Register,2020-01-01T10:00:00,ann\n"
                   "A,Register,2020-01-01T10:00:00,ann\n"  # an export's duplicate: the same row again
                   "A,Register,2020-01-01T10:00:00,bob\n"  # another performer: not a repeat
                   "B,Register,2020-01-01T10:00:00,ann\n"  # another case: not a repeat
                   "A,Close,2020-01-02T09:00:00,ann\n"
                   "A,Close,2020-01-02T09:00:00.000000+00:00,ann\n")  # the same instant written otherwise
    res = CliRunner().invoke(app, ["import-log", str(log), "--definition", "intake", "--db", db_url],
                             env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == "import-log: 2 cases, 8 events imported, 0 already present"
    assert res.stderr.startswith("import-log: note: 2 rows repeat an earlier row of the same case exactly")
    with Store.open(db_url) as store:
        case_id = store.case_id_for_business_key("twice:A")
        assert case_id is not None
        assert [e.payload["activity"] for e in store.events(case_id)[1:]] == ["Register"] * 3 + ["Close"] * 2


def test_a_bad_row_after_a_field_with_line_breaks_is_named_by_the_line_it_starts_on(
    sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "notes.csv"
    log.write_text('case_id,activity,timestamp\nOK,"Note:\nsee\nattached",2020-01-01T00:00:00\nA,x,2020-13-01T00:00:00\n')
    with Store.open(sqlite_url) as store:
        with pytest.raises(LogImportError, match=re.escape("line 5: timestamp '2020-13-01T00:00:00' is not ISO-8601")):
            import_log(store, log, "intake")
        assert store.counts() == (0, 0)


def test_a_long_bad_timestamp_is_quoted_by_its_start(db_url: str, tmp_path: Path) -> None:
    # a field may hold 128 KB: the error quotes enough to find it, and says how long it is
    log = tmp_path / "times.csv"
    log.write_text(f"case_id,activity,timestamp\nOK,x,2020-01-01T00:00:00\nA,x,{'9' * 100_000}\n")
    with Store.open(db_url) as store:
        with pytest.raises(LogImportError) as caught:
            import_log(store, log, "intake")
        assert str(caught.value) == f"line 3: timestamp {'9' * 80!r}... (100,000 characters) is not ISO-8601"
        assert store.counts() == (0, 0)


def test_a_taken_key_is_found_whatever_the_databases_collation(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An ICU collation sorts "log:c1" after "log;": a range of keys compared by it misses those of the log, which
    # were then taken to be free, and the log's first cases written before its taken key stopped it.
    monkeypatch.setattr(importlog, "BATCH_CASES", 1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "log.csv").write_text("case_id,activity,timestamp\nc1,A,2024-01-01T10:00:00\n")
    (tmp_path / "b" / "log.csv").write_text("case_id,activity,timestamp\nc2,B,2024-01-01T10:00:00\n"
                                            "c1,X,2025-01-01T10:00:00\n")
    with Store.open(pg_url, audit_key=tmp_path / "k") as store:
        with store.engine.begin() as conn:
            conn.execute(text('ALTER TABLE cases ALTER COLUMN business_key TYPE VARCHAR(300) COLLATE "und-x-icu"'))
        assert import_log(store, tmp_path / "a" / "log.csv", "intake").cases == 1
        with pytest.raises(LogImportError, match=r"^case 'c1': its key 'log:c1' is taken"):
            import_log(store, tmp_path / "b" / "log.csv", "intake")
        assert store.counts() == (1, 2)


def test_a_log_imported_under_another_definition_key_is_refused_not_counted_present(
    db_url: str, tmp_path: Path
) -> None:
    # Counted "already present", the second import said it had the log while no case of it was under its key.
    log = tmp_path / "claims.csv"
    log.write_text("case_id,activity,timestamp\nc1,A,2024-01-01T10:00:00\nc2,B,2024-01-02T10:00:00\n")
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        assert import_log(store, log, "wrong").cases == 2
    key = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    res = CliRunner().invoke(app, ["import-log", str(log), "--definition", "claims", "--db", db_url], env=key)
    assert res.exit_code == 2
    assert "case key 'claims:c1' is stored as a case of 'wrong', not 'claims'" in res.stderr
    assert "nothing was imported" in res.stderr and "--name" in res.stderr
    res = CliRunner().invoke(app, ["import-log", str(log), "--definition", "wrong", "--db", db_url], env=key)
    assert res.exit_code == 0 and "0 cases, 0 events imported, 2 already present" in res.stdout
    res = CliRunner().invoke(app, ["import-log", str(log), "--definition", "claims", "--db", db_url,
                                   "--name", "claims-again"], env=key)
    assert res.exit_code == 0, res.output
    with Store.open(db_url) as store:
        assert store.counts() == (4, 8)
        assert len(store.case_listing(definition_key="claims")) == 2


def _race_logs(tmp_path: Path) -> tuple[Path, Path]:
    """The log, and a copy of the same name with its last two cases only: imported under another key while the
    first is being imported, it is not refused by its own first check, as the whole log would be."""
    rows = [f"c{n},Open,2026-01-01T09:00:00\nc{n},Close,2026-01-01T10:00:0{n}\n" for n in range(3)]
    log = tmp_path / "race.csv"
    log.write_text("case_id,activity,timestamp\n" + "".join(rows))
    (tmp_path / "other").mkdir()
    part = tmp_path / "other" / "race.csv"
    part.write_text("case_id,activity,timestamp\n" + "".join(rows[1:]))
    return log, part


@pytest.mark.parametrize("present", [False, True], ids=["on-write", "on-re-ask"])
def test_an_import_racing_an_import_of_the_same_log_under_another_key_is_refused_not_counted_present(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, present: bool
) -> None:
    # Two re-checks see the other import's cases: the insert that collides with them ("on-write"), and, where some
    # of the log's keys were taken at the first check, the batch's own question before it is built ("on-re-ask").
    # Both counted those cases "already present" under the key asked for, as the first check no longer does.
    log, part = _race_logs(tmp_path)
    monkeypatch.setattr(importlog, "BATCH_CASES", 1)  # a batch per case, so the other import lands between two
    with Store.open(db_url, audit_key=tmp_path / "k") as store, Store.open(db_url, audit_key=tmp_path / "k") as other:
        if present:
            assert import_log(store, log, "intake", limit=1).cases == 1  # c0, under the key asked for
        others: list[importlog.ImportResult] = []

        def after_batch(_n: int) -> None:
            if not others:  # another process imports the rest of the log under another key, after our check
                others.append(import_log(other, part, "wrong"))

        with pytest.raises(LogImportError) as caught:
            import_log(store, log, "intake", progress=after_batch)
        assert others[0].cases == 2
        done = "nothing was imported" if present else "the batches before it were imported"
        assert str(caught.value) == (
            "case key 'race:c1' is stored as a case of 'wrong', not 'intake' (this log was imported under that "
            f"definition key before); {done}. Import it under another name (import-log --name NAME) to store it "
            "again as cases of this key")
        assert store.counts() == (3, 9) and verify(store, snapshots=False).ok
        assert len(store.case_listing(definition_key="intake")) == 1


def test_an_import_racing_an_import_of_the_same_log_under_the_same_key_still_counts_it_present(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, part = _race_logs(tmp_path)
    monkeypatch.setattr(importlog, "BATCH_CASES", 1)
    with Store.open(db_url, audit_key=tmp_path / "k") as store, Store.open(db_url, audit_key=tmp_path / "k") as other:
        others: list[importlog.ImportResult] = []

        def after_batch(_n: int) -> None:
            if not others:
                others.append(import_log(other, part, "intake"))

        mine = import_log(store, log, "intake", progress=after_batch)
        assert (others[0].cases, mine.cases, mine.skipped) == (2, 1, 2)
        assert len(store.case_listing(definition_key="intake")) == 3


def test_an_import_leaves_postgresql_statistics_of_what_it_loaded(pg_url: str, tmp_path: Path) -> None:
    # Without them, until autovacuum came, the planner took the new events for few and scanned them all for each
    # 500 cases `suggest similar` asked about.
    log = _write_gz(tmp_path / "small.csv.gz", SMALL)
    with Store.open(pg_url, audit_key=tmp_path / "k") as store:
        assert import_log(store, log, "intake").cases == 2
        with store.read() as conn:
            analysed = dict(conn.execute(text(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE schemaname = current_schema() AND relname IN ('cases', 'events')")).all())
    assert analysed == {"cases": True, "events": True}
