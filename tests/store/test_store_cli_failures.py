"""The machine fails under a command: the database locked past the busy timeout, a read-only server, a folder
that is a file. One line on standard error, exit status 2, and what the command had written stays whole."""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.store import Store
from casework.store import store as store_module
from casework.store.testing import cannot_write, fill_up, run_casework, small_disk

__all__ = ["cannot_write", "small_disk"]

LOG = "".join(f"c{n},Open,2026-01-01T09:00:00\nc{n},Close,2026-01-01T10:00:00\n" for n in range(3))


def _log(tmp_path: Path) -> Path:
    log = tmp_path / "log.csv"
    log.write_text("case_id,activity,timestamp\n" + LOG)
    return log


def test_a_database_locked_past_the_busy_timeout_is_one_line_and_a_second_run_imports(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    with Store.open(sqlite_url, audit_key=tmp_path / "k"):
        pass
    # The same wait, 0.2 s instead of 30 s, so that the test does not sit out the operator's timeout.
    monkeypatch.setattr(store_module, "create_store_engine",
                        functools.partial(store_module.create_store_engine, busy_timeout_ms=200))
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process writing for longer than the timeout
        result = CliRunner().invoke(app, ["import-log", str(_log(tmp_path)), "--definition", "k", "--db", sqlite_url],
                                    env=key)
    finally:
        holder.close()
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # an exit, not an exception's traceback
    assert "error: the database failed: database is locked: another process held the database's write lock" in (
        result.output)
    assert result.output.rstrip().endswith("nothing was imported")
    again = CliRunner().invoke(app, ["import-log", str(_log(tmp_path)), "--definition", "k", "--db", sqlite_url],
                               env=key)
    assert again.exit_code == 0 and "3 cases, 9 events imported, 0 already present" in again.output


def _server(url: str) -> str:
    """host:port of a PostgreSQL URL, as a command's error names the server."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port or 5432}"


def test_a_read_only_postgres_server_is_one_line_and_nothing_is_written(pg_url: str, tmp_path: Path) -> None:
    key = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    with Store.open(pg_url, audit_key=tmp_path / "k"):
        pass
    standby = pg_url + "%20-cdefault_transaction_read_only%3Don"  # as a hot standby answers writes
    for command in (["import-log", str(_log(tmp_path)), "--definition", "k"], ["demo"]):
        result = CliRunner().invoke(app, [*command, "--db", standby], env=key)
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        assert f"error: the database at {_server(pg_url)} failed: cannot execute INSERT in a read-only transaction" in (
            result.output)
    with Store.open(pg_url, audit_key=tmp_path / "k") as store:
        assert store.counts() == (0, 0)


def test_a_blob_folder_that_is_a_file_is_named(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "blobs").write_text("not a folder")
    env = {"CASEWORK_BLOBS": str(tmp_path / "blobs"), "CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    result = CliRunner().invoke(app, ["demo", "--db", sqlite_url], env=env)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    assert f"error: cannot use {tmp_path / 'blobs'}" in result.output and "Not a directory" in result.output


def test_a_damaged_sqlite_file_is_named_as_damaged(sqlite_url: str, tmp_path: Path) -> None:
    from casework.export.importlog import import_log

    with Store.open(sqlite_url, audit_key=tmp_path / "k") as store:
        import_log(store, _log(tmp_path), "k")
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as conn:  # the last connection closed: the WAL is in the file
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:  # a disk fault in the events table's first page; the schema still reads
        fh.seek((root - 1) * page_size)
        fh.write(b"\x13" * 64)
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    for command in (["audit", "verify"], ["export", "--format", "csv", "-o", str(tmp_path / "out.csv")]):
        result = CliRunner().invoke(app, [*command, "--db", sqlite_url], env=env)
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
        assert "error: the database failed: database disk image is malformed: the database file is damaged" in (
            result.output)
    assert not (tmp_path / "out.csv").exists()


def test_a_postgres_lock_held_past_the_timeout_is_one_line_not_a_hang(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    from casework.store.url import parse_url

    key = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    with Store.open(pg_url, audit_key=tmp_path / "k"):
        pass
    monkeypatch.setattr(store_module, "create_store_engine",
                        functools.partial(store_module.create_store_engine, busy_timeout_ms=200))
    other = create_engine(parse_url(pg_url))

    def end_session(pid: int) -> None:  # so that a command that waits for ever fails this test instead of hanging it
        with other.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    try:
        with other.connect() as holder, holder.begin():  # a psql session that took a lock and went to lunch
            holder.execute(text("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE"))
            guard = threading.Timer(10, end_session, [holder.execute(text("SELECT pg_backend_pid()")).scalar_one()])
            guard.start()
            result = CliRunner().invoke(app, ["import-log", str(_log(tmp_path)), "--definition", "k", "--db",
                                              pg_url], env=key)
            guard.cancel()
    except DBAPIError:
        pass  # the guard ended the session: the command had waited 10 s
    finally:
        other.dispose()
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    assert (f"error: the database at {_server(pg_url)} failed: canceling statement due to lock timeout: another "
            "session held a lock") in result.output
    assert result.output.rstrip().endswith("nothing was imported")
    again = CliRunner().invoke(app, ["import-log", str(_log(tmp_path)), "--definition", "k", "--db", pg_url], env=key)
    assert again.exit_code == 0 and "3 cases, 9 events imported, 0 already present" in again.output


def test_ctrl_c_during_import_log_says_what_stayed_and_a_second_run_adds_the_rest(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from casework.export import importlog

    key = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    real = importlog.import_log

    def interrupted_after_the_first_batch(*args: Any, progress: Callable[[int], None], **kwargs: Any) -> Any:
        def committed(n: int) -> None:
            progress(n)
            raise KeyboardInterrupt  # as Ctrl-C raises it, between one batch and the next

        return real(*args, progress=committed, **kwargs)

    monkeypatch.setattr(importlog, "BATCH_CASES", 2)
    monkeypatch.setattr(importlog, "import_log", interrupted_after_the_first_batch)
    command = ["import-log", str(_log(tmp_path)), "--definition", "k", "--db", sqlite_url]
    result = CliRunner().invoke(app, command, env=key)
    assert result.exit_code == 130, result.output
    assert result.output == ("interrupted: the first 2 cases of the log were imported (or already present) and stay; "
                             "importing the file again adds the rest\n")
    monkeypatch.setattr(importlog, "import_log", real)
    again = CliRunner().invoke(app, command, env=key)
    assert again.exit_code == 0, again.output
    assert again.output.startswith("import-log: 1 cases,") and "2 already present" in again.output, again.output


@pytest.mark.parametrize("where", ["missing.csv", "logs"])
def test_import_log_of_a_path_that_is_no_log_file_creates_no_database(tmp_path: Path, where: str) -> None:
    (tmp_path / "logs").mkdir()
    db = tmp_path / "new.db"
    result = CliRunner().invoke(app, ["import-log", str(tmp_path / where), "--definition", "k", "--db",
                                      f"sqlite:///{db}"], env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    said = "no such file" if where == "missing.csv" else "a folder, not a log file"
    assert result.exit_code == 2 and result.output == f"error: {tmp_path / where}: {said}\n"
    assert not db.exists()


@pytest.mark.parametrize(("content", "said"), [
    (b"case_id,activity,timestamp\nA,Register,2020-01-01T10:00:00\nA,Close,yesterday\n",
     "line 3: timestamp 'yesterday' is not ISO-8601"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ""),
    (b"case_id,activity,timestamp\n", "no events"),
])
def test_import_log_of_a_log_that_cannot_be_imported_creates_no_database(
    tmp_path: Path, content: bytes, said: str
) -> None:
    log = tmp_path / "log.csv"
    log.write_bytes(content)
    db = tmp_path / "new.db"
    result = CliRunner().invoke(app, ["import-log", str(log), "--definition", "k", "--db", f"sqlite:///{db}"],
                                env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert result.exit_code == 2 and result.output.startswith("error: ") and said in result.output, result.output
    assert not db.exists() and not (tmp_path / "k").exists()


def _damage_page_of(path: Path, name: str) -> None:
    """Overwrite the cell pointers of the root page of table or index `name`, as a disk fault would."""
    with sqlite3.connect(path) as conn:  # the last connection closed: the WAL is in the file
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:
        fh.seek((root - 1) * page_size + 8)
        fh.write(b"\x00\x07" * 20)


@pytest.mark.parametrize("damaged", ["ix_cases_status_created", "sqlite_autoindex_cases_1"])
def test_audit_verify_of_a_file_with_a_damaged_index_says_damaged_not_ok(
    sqlite_url: str, tmp_path: Path, damaged: str
) -> None:
    # The chains are read from the events table alone: a damaged index of the cases was passed as "ok".
    from casework.audit.verify import verify
    from casework.export.importlog import import_log
    from casework.store.integrity import DamagedDatabase

    with Store.open(sqlite_url, audit_key=tmp_path / "k") as store:
        import_log(store, _log(tmp_path), "k")
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    _damage_page_of(path, damaged)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
    conn.close()
    result = CliRunner().invoke(app, ["audit", "verify", "--db", sqlite_url], env={"CASEWORK_AUDIT_KEY":
                                                                                    str(tmp_path / "k")})
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: the database file is damaged: PRAGMA integrity_check says 'On tree page "), result.stderr
    assert "restore it from a backup" in lines[0]
    with Store.open(sqlite_url, audit_key=tmp_path / "k", read_only=True) as store, pytest.raises(DamagedDatabase):
        verify(store)


def test_a_full_disk_is_named_full_even_where_sqlite_says_disk_i_o_error(tmp_path: Path, small_disk: Path) -> None:
    # Opening a WAL database sizes its -shm file; on a full disk SQLite answers "disk I/O error"
    # (SQLITE_IOERR_SHMSIZE), which the hint had called a disk failing to read or write.
    db = f"sqlite:///{small_disk / 'casework.db'}"
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    first = CliRunner().invoke(app, ["import-log", str(_log(tmp_path)), "--definition", "k", "--db", db], env=env)
    assert first.exit_code == 0, first.output
    assert not (small_disk / "casework.db-shm").exists()  # the last connection closed, as after any command
    before = (small_disk / "casework.db").read_bytes()
    filler = fill_up(small_disk)
    for command in (["tasks"], ["audit", "verify"], ["import-log", str(_log(tmp_path)), "--definition", "k"]):
        result = CliRunner().invoke(app, [*command, "--db", db], env=env)
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.exception
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and ("disk I/O error: SQLite could not make room for the database's -shm file beside "
                                    "it: the disk is full; free space and run the command again") in lines[0], lines
    assert (small_disk / "casework.db").read_bytes() == before
    filler.unlink()
    log = tmp_path / "more.csv"
    log.write_text("case_id,activity,timestamp\nd1,Open,2026-01-02T09:00:00\n")
    again = CliRunner().invoke(app, ["import-log", str(log), "--definition", "k", "--db", db], env=env)
    assert again.exit_code == 0 and "1 cases, 2 events imported" in again.output, again.output
    verified = CliRunner().invoke(app, ["audit", "verify", "--db", db], env=env)
    assert verified.exit_code == 0 and verified.stdout == "audit: 4 cases, 11 events, ok\n", verified.output


def test_a_read_only_database_file_is_refused_before_sqlite_leaves_read_only_wal_files_that_outlast_the_fix(
    tmp_path: Path, cannot_write: tuple[str, ...]
) -> None:
    # SQLite created -wal and -shm files with the database file's read-only mode before refusing the write; made
    # writable again, the file still could not be written: the read-only -shm file refused every write.
    db = tmp_path / "casework.db"
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    made = run_casework("import-log", str(_log(tmp_path)), "--definition", "k", "--db", f"sqlite:///{db}", env=env)
    assert made.returncode == 0, made.stderr
    log = tmp_path / "more.csv"
    log.write_text("case_id,activity,timestamp\nd1,Open,2026-01-02T09:00:00\n")
    command = ["import-log", str(log), "--definition", "k", "--db", f"sqlite:///{db}"]
    db.chmod(0o444)
    refused = run_casework(*command, prefix=cannot_write, env=env)
    assert refused.returncode == 2 and refused.stdout == "", refused.stdout
    assert refused.stderr.startswith(f"error: cannot use the database sqlite:///{db}: the database file {db} cannot "
                                     "be written (Permission denied), and this command writes"), refused.stderr
    assert refused.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("casework.db")) == ["casework.db"]
    db.chmod(0o644)  # the cause gone: the store takes writes again
    again = run_casework(*command, prefix=cannot_write, env=env)
    assert again.returncode == 0 and "1 cases, 2 events imported" in again.stdout, again.stderr


def test_a_read_only_shm_file_beside_a_writable_database_is_named(
    tmp_path: Path, cannot_write: tuple[str, ...]
) -> None:
    db = tmp_path / "casework.db"
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    assert run_casework("import-log", str(_log(tmp_path)), "--definition", "k", "--db", f"sqlite:///{db}",
                        env=env).returncode == 0
    shm = tmp_path / "casework.db-shm"
    shm.write_bytes(b"")  # as another tool, or an older casework, left it
    shm.chmod(0o444)
    log = tmp_path / "more.csv"
    log.write_text("case_id,activity,timestamp\nd1,Open,2026-01-02T09:00:00\n")
    result = run_casework("import-log", str(log), "--definition", "k", "--db", f"sqlite:///{db}", prefix=cannot_write,
                          env=env)
    assert result.returncode == 2
    assert f"the database's -shm file (SQLite's index of the -wal file) {shm} cannot be written (Permission " \
        "denied)" in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_checking_that_a_database_can_be_written_keeps_the_locks_this_process_holds_on_it(tmp_path: Path) -> None:
    # Closing any descriptor of a file drops every POSIX lock the process holds on it: a check that opened and
    # closed the -shm file let another process write while this one's write transaction was open.
    import subprocess

    from casework.store.writable import check_writable

    db = tmp_path / "casework.db"
    with Store.open(f"sqlite:///{db}", audit_key=tmp_path / "k"):
        pass
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode = WAL")
        holder.execute("BEGIN IMMEDIATE")  # this process writes
        check_writable(db)
        other = subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=0,"
                                " isolation_level=None); c.execute('BEGIN IMMEDIATE')", str(db)],
                               capture_output=True, text=True, timeout=60, check=False)
    finally:
        holder.close()
    assert other.returncode != 0 and "database is locked" in other.stderr, other.stderr
