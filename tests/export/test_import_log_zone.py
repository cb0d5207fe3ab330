"""import-log with CASEWORK_TIMEZONE: a time without an offset is a wall-clock time in the organisation's zone."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from casework.cli import app
from casework.export.importlog import import_log
from casework.store import Store

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LOG = """case_id,activity,timestamp
winter,Register,2021-01-15T10:00:00
summer,Register,2021-07-15T10:00:00
gap,Register,2021-03-28T02:30:00
fold,Register,2021-10-31T02:30:00
offset,Register,2021-07-15T10:00:00+00:00
"""


def _stored_times(store: Store, name: str) -> dict[str, str]:
    times = {}
    for case in ("winter", "summer", "gap", "fold", "offset"):
        case_id = store.case_id_for_business_key(f"{name}:{case}")
        assert case_id is not None
        events = store.events(case_id)
        assert events[0].at == events[1].at  # the case starts at its first row
        times[case] = events[1].at
    return times


def test_times_without_an_offset_are_the_zones_wall_clock(db_url: str, tmp_path: Path) -> None:
    log = tmp_path / "zoned.csv"
    log.write_text(LOG)
    with Store.open(db_url, audit_key=tmp_path / "k") as store:
        assert import_log(store, log, "intake", zone=AMSTERDAM).cases == 5
        assert _stored_times(store, "zoned") == {
            "winter": "2021-01-15T09:00:00+00:00",  # CET, +01:00
            "summer": "2021-07-15T08:00:00+00:00",  # CEST, +02:00
            "gap": "2021-03-28T01:30:00+00:00",  # the clock skipped 02:00-03:00: the offset before the change
            "fold": "2021-10-31T00:30:00+00:00",  # 02:30 came twice: the first, in summer time
            "offset": "2021-07-15T10:00:00+00:00",  # an offset keeps its instant
        }
        # The same file again adds nothing, in the same zone or another (the digest is over the rows as given):
        # the cases keep the instants of their first import.
        assert import_log(store, log, "intake", zone=AMSTERDAM).skipped == 5
        assert import_log(store, log, "intake").skipped == 5
        assert store.counts() == (5, 10)
        assert _stored_times(store, "zoned")["summer"] == "2021-07-15T08:00:00+00:00"


def test_the_command_reads_the_zone_from_casework_timezone(tmp_path: Path) -> None:
    log = tmp_path / "zoned.csv"
    log.write_text(LOG)
    db = f"sqlite:///{tmp_path / 'c.db'}"
    key = str(tmp_path / "k")
    for name, zone in (("amsterdam", "Europe/Amsterdam"), ("utc", "UTC"), ("unset", None)):
        env = {"CASEWORK_AUDIT_KEY": key, "CASEWORK_TIMEZONE": zone}
        res = CliRunner().invoke(app, ["import-log", str(log), "--definition", "intake", "--db", db, "--name", name],
                                 env=env)
        assert res.exit_code == 0, res.output
    with Store.open(db, audit_key=key) as store:
        assert _stored_times(store, "amsterdam")["winter"] == "2021-01-15T09:00:00+00:00"
        # UTC, named or by default, is the clock as recorded: as before the setting existed
        as_recorded = {case: at for case, at in _stored_times(store, "unset").items()}
        assert as_recorded["winter"] == "2021-01-15T10:00:00+00:00"
        assert _stored_times(store, "utc") == as_recorded


def test_an_unknown_zone_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "zoned.csv"
    log.write_text(LOG)
    db_file = tmp_path / "c.db"
    res = CliRunner().invoke(app, ["import-log", str(log), "--definition", "intake", "--db", f"sqlite:///{db_file}"],
                             env={"CASEWORK_TIMEZONE": "Europe/Amsterdm", "CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert res.exit_code == 2
    assert res.stdout == ""
    assert res.stderr.startswith("error: CASEWORK_TIMEZONE='Europe/Amsterdm' is no time zone known here")
    assert len(res.stderr.strip().splitlines()) == 1
    assert not db_file.exists() and not (tmp_path / "k").exists()


def test_an_export_imported_again_in_the_organisations_zone_keeps_its_instants(tmp_path: Path) -> None:
    # The export writes UTC instants; a zone-less timestamp in it was read back on Amsterdam's clock, every time
    # an hour (in summer two) earlier than it had been.
    log = tmp_path / "zoned.csv"
    log.write_text(LOG)
    key = str(tmp_path / "k")
    env = {"CASEWORK_AUDIT_KEY": key, "CASEWORK_TIMEZONE": "Europe/Amsterdam"}
    first, second = f"sqlite:///{tmp_path / 'first.db'}", f"sqlite:///{tmp_path / 'second.db'}"
    exported = tmp_path / "export.csv"
    for args in (["import-log", str(log), "--definition", "intake", "--db", first],
                 ["export", "--format", "csv", "-o", str(exported), "--db", first],
                 ["import-log", str(exported), "--definition", "intake", "--db", second]):
        res = CliRunner().invoke(app, args, env=env)
        assert res.exit_code == 0, res.output
    with Store.open(first, audit_key=key) as store:
        before = _stored_times(store, "zoned")
        by_case_id = {case: store.case_id_for_business_key(f"zoned:{case}") for case in before}
    with Store.open(second, audit_key=key) as store:
        after = {case: _activity_time(store, f"export:{by_case_id[case]}") for case in before}
    assert after == before


def _activity_time(store: Store, business_key: str) -> str:
    case_id = store.case_id_for_business_key(business_key)
    assert case_id is not None
    return store.events(case_id)[1].at
