"""import-log holds a batch of cases at a time, not the log: the rows it checked wait on disk, not in memory."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

import casework
from casework.export import importlog
from casework.export.importlog import LogCase, import_log, read_checked
from casework.store import Store
from casework.store.testing import small_disk

__all__ = ["small_disk"]

CASES, BATCH = 12, 2


def _log(tmp_path: Path) -> Path:
    # Each case's rows apart and out of time order: grouping them is the importer's work, not the file's.
    log = tmp_path / "held.csv"
    log.write_text("case_id,activity,timestamp,resource\n" + "".join(
        f"case-{n:03d},Close,2020-01-01T11:{n:02d}:00,ann\n" for n in range(CASES)) + "".join(
        f"case-{n:03d},Open,2020-01-01T10:{n:02d}:00,bob\n" for n in range(CASES)))
    return log


def _is_time(value: object) -> bool:
    return type(value) is str and value.startswith("2020-01-01T1")


def _rows_held() -> list[object]:
    """The lists and dicts in memory that hold a time of the log's rows, or a row (a tuple) holding one: a tuple of
    strings alone is not tracked by the garbage collector, so the rows are found through what holds them."""
    gc.collect()
    return [o for o in gc.get_objects() if type(o) in (list, dict) and any(
        _is_time(v) or (type(v) is tuple and any(_is_time(x) for x in v))
        for v in (o.values() if type(o) is dict else o))]


def _cases_held() -> int:
    gc.collect()
    return sum(isinstance(o, LogCase) for o in gc.get_objects())


def test_a_checked_log_waits_on_disk(tmp_path: Path) -> None:
    log = read_checked(_log(tmp_path), "intake")
    assert _rows_held() == []  # before: every row of every case
    assert len(log) == CASES
    assert [c.source_id for c in log] == [f"case-{n:03d}" for n in range(CASES)]
    log.close()


def test_an_import_holds_one_batch_of_cases(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlog, "BATCH_CASES", BATCH)
    held: list[int] = []
    with Store.open(sqlite_url, audit_key=tmp_path / "k") as store:
        result = import_log(store, _log(tmp_path), "intake", progress=lambda _n: held.append(_cases_held()))
        assert (result.cases, result.events) == (CASES, 3 * CASES)
    assert held == [BATCH] * (CASES // BATCH)  # before: every case of the log, to the end


def test_a_full_temporary_folder_is_one_line_and_nothing_is_written(tmp_path: Path, small_disk: Path) -> None:
    # 500,000 rows: 22 MB spilled, past SQLite's page cache (16 MB) and then the 2 MB folder. In a process of its
    # own: SQLite reads SQLITE_TMPDIR once, when it first makes a temporary file.
    log = tmp_path / "big.csv"
    with log.open("w") as fh:
        fh.write("case_id,activity,timestamp\n")
        fh.writelines(f"c,Step {n},2020-01-01T10:00:00\n" for n in range(500_000))
    db = tmp_path / "casework.db"
    env = {**os.environ, "PYTHONPATH": str(Path(casework.__file__).parents[1]), "SQLITE_TMPDIR": str(small_disk)}
    done = subprocess.run([sys.executable, "-m", "casework", "import-log", str(log), "--definition", "intake",
                           "--db", f"sqlite:///{db}"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"error: {log}: cannot hold its rows in a temporary file while it is checked: database "
                           "or disk is full (TMPDIR names the folder)\n")
    assert not db.exists()
    assert list(small_disk.iterdir()) == []  # SQLite's temporary file went with it
