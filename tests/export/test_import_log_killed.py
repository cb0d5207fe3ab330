"""import-log killed (SIGKILL: no handler runs) part way: what it committed is whole cases that verify, and a second
run imports the rest."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import casework
from casework.audit.verify import verify
from casework.export.importlog import BATCH_CASES
from casework.store import Store

CASES = 12 * BATCH_CASES  # enough batches that the kill lands between two of them


def _stored(db: Path) -> tuple[int, int, list[tuple[str, int, int]]]:
    """(cases, events, the cases whose row does not match their events or is not closed)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        half = conn.execute(
            "SELECT c.id, c.version, count(e.id) FROM cases c LEFT JOIN events e ON e.case_id = c.id "
            "GROUP BY c.id HAVING c.version != count(e.id) OR max(c.status) != 'completed'"
        ).fetchall()
    return cases, events, half


def _any_case(db: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT 1 FROM cases LIMIT 1").fetchone() is not None
    except sqlite3.OperationalError:  # no file yet, or no tables: the store is being created
        return False


def test_an_import_killed_half_way_leaves_whole_cases_and_resumes(tmp_path: Path) -> None:
    log = tmp_path / "big.csv"
    log.write_text("case_id,activity,timestamp\n" + "".join(
        f"case{n},Register,2020-01-01T10:00:00\ncase{n},Close,2020-01-01T11:00:00\n" for n in range(CASES)))
    db = tmp_path / "casework.db"
    env = {**os.environ, "PYTHONPATH": str(Path(casework.__file__).parents[1]),
           "CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    command = [sys.executable, "-m", "casework", "import-log", str(log), "--definition", "intake",
               "--db", f"sqlite:///{db}"]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        while proc.poll() is None and not _any_case(db):
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    cases, events, half = _stored(db)
    assert 0 < cases < CASES, "the kill came before the first batch or after the last"
    assert half == [] and events == 3 * cases  # a case_imported event and one per row, in whole batches
    with Store.open(f"sqlite:///{db}", audit_key=tmp_path / "k") as store:
        report = verify(store)
    assert report.ok and report.complete and report.cases == cases, report.problems

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"import-log: {CASES - cases} cases, {3 * (CASES - cases)} events imported, "
                                   f"{cases} already present")
    with Store.open(f"sqlite:///{db}", audit_key=tmp_path / "k") as store:
        report = verify(store)
    assert report.ok and report.cases == CASES and report.events == 3 * CASES, report.problems
    assert _stored(db)[2] == []
