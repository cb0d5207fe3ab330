"""PostgreSQL whose server stops answering while its host still acknowledges everything (`frozen_server`: a
server paused with SIGSTOP, a frozen VM, a hung pooler), and sessions that wait on a lock or run long. A command or a
read on such a connection used to wait for ever: TCP keepalives and tcp_user_timeout are answered by the kernel. With
the session's statement timeout and the client's deadline past it (`pgbounds`; 2 s + 2 s here), and the connect
timeout, each fails in one line naming the server and what did not answer, with nothing half-written.

HANG is no speed check: a call still waiting after it (15 times the bounds) is taken to wait for ever, and the test
fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from frozen_server import FrozenServer, frozen_server
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from waiting import outcome_within, sleep_in_read

from casework.audit.verify import verify
from casework.engine import commands
from casework.paths import shared_dir
from casework.service import CaseService, OutcomeUnknown
from casework.store import Store
from casework.store.cli import environment_error
from casework.store.url import CONNECT_TIMEOUT_ENV, NETWORK_TIMEOUT_ENV, parse_url

pytest.importorskip("psycopg")

BOUND = 2  # seconds: the statement, network and connect timeouts in these tests
HANG = 60
STATEMENT_TIMEOUT_ENV = "CASEWORK_PG_STATEMENT_TIMEOUT"
LOCK_TIMEOUT_ENV = "CASEWORK_PG_LOCK_TIMEOUT"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
SECRET = "s3cret-pw"
BOUNDS = {STATEMENT_TIMEOUT_ENV: str(BOUND), NETWORK_TIMEOUT_ENV: str(BOUND), CONNECT_TIMEOUT_ENV: str(BOUND)}


def _with_password(url: str) -> str:
    """`url` with a password in it, which must never be shown (the test server trusts local connections)."""
    return make_url(url).set(password=SECRET).render_as_string(hide_password=False)


@pytest.fixture
def bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in BOUNDS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)


@pytest.fixture
def service(pg_url: str, tmp_path: Path, bounded: None) -> Iterator[tuple[FrozenServer, CaseService, str]]:
    """A service whose store reaches PostgreSQL through a server that the test can freeze; and the direct URL."""
    shared = shared_dir()
    if shared is None or not (shared / "bench" / "claim.cmmn").exists():
        pytest.skip("the shared corpus (bench/claim.cmmn) is not available")
    with frozen_server(pg_url) as server:
        store = Store.open(_with_password(server.url(pg_url)), audit_key=tmp_path / "audit.key",
                           blob_dir=tmp_path / "blobs")
        svc = CaseService(store, clock=lambda: T0)
        svc.deploy((shared / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
        try:
            yield server, svc, pg_url
        finally:
            server.close()  # the server ends its sessions: what they left open is rolled back
            with contextlib.suppress(Exception):  # its last checkpoint may have gone to the frozen server
                svc.close()
            store.close()


def _run(server: FrozenServer, call: Callable[[], Any]) -> Any:
    """What `call` returns, or the exception it raises; a failure if it is still waiting after HANG seconds (the
    server is closed to release it)."""
    return outcome_within(call, HANG, server.close, f"after the server froze (the bounds are {BOUND} s)")


def _one_line(error: Any, server: FrozenServer) -> str:
    assert isinstance(error, BaseException), f"succeeded on a frozen server: {error!r}"
    line = environment_error(error)  # what `casework` prints after "error: ", then exit 2
    assert line is not None, repr(error)
    assert "\n" not in line and f"127.0.0.1:{server.port}" in line and SECRET not in line, line
    return line


def test_a_read_on_a_frozen_server_fails_in_one_line_naming_the_server(
    service: tuple[FrozenServer, CaseService, str]
) -> None:
    server, svc, _ = service
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    assert svc.store.case(case_id) is not None
    server.freeze()
    line = _one_line(_run(server, lambda: svc.store.case(case_id)), server)
    assert "sent no reply for 4 s" in line and "CASEWORK_PG_STATEMENT_TIMEOUT" in line, line


def test_a_command_on_a_frozen_server_fails_with_outcome_unknown_and_nothing_is_written(
    service: tuple[FrozenServer, CaseService, str], tmp_path: Path
) -> None:
    server, svc, direct = service
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.execute(case_id, commands.SetVariables(variables={"n": 1}, actor="ann"))
    acknowledged = [e.hash for e in svc.store.events(case_id)]
    server.freeze()
    error = _run(server, lambda: svc.execute(
        case_id, commands.AddItem(kind="humanTask", name="Call the customer", actor="ann")))
    assert isinstance(error, OutcomeUnknown) and error.case_id == case_id, repr(error)
    _one_line(error, server)
    server.close()
    with Store.open(direct, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as store:
        events = store.events(case_id)
        assert [e.hash for e in events] == acknowledged  # the frozen write never committed; nothing was lost
        row = store.case(case_id)
        assert row is not None and row.version == len(events)
        report = verify(store)
        assert report.ok, report.problems


def test_a_connection_to_a_server_that_accepts_and_never_answers_fails_naming_it(
    service: tuple[FrozenServer, CaseService, str]
) -> None:
    server, svc, _ = service
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.store.engine.dispose()  # the next read needs a new connection
    server.freeze()
    error = _run(server, lambda: svc.store.case(case_id))
    assert isinstance(error, DBAPIError), repr(error)
    line = _one_line(error, server)
    assert "cannot connect" in line and "timeout expired" in line, line


def _log(tmp_path: Path, cases: int) -> Path:
    path = tmp_path / "big.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("case_id,activity,timestamp,resource\n")
        for n in range(cases):
            for step, activity in enumerate(("register", "check", "decide")):
                out.write(f"c{n},{activity},2024-01-{1 + n % 28:02d}T{9 + step:02d}:00:00+00:00,ann\n")
    return path


def _casework(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-m", "casework", *args], capture_output=True, text=True,
                              timeout=HANG, env={**os.environ, **BOUNDS, **env})
    except subprocess.TimeoutExpired:
        pytest.fail(f"casework {args[0]} still waiting {HANG} s after the server froze (the bounds are {BOUND} s)")


def test_import_log_on_a_server_that_freezes_part_way_fails_in_one_line_and_leaves_whole_batches(
    pg_url: str, tmp_path: Path
) -> None:
    """The server freezes as the second batch's events are sent: the import stops with one line naming the server,
    the first batch stays, sealed, and the second is not half-written; a second run imports the rest."""
    log = _log(tmp_path, 1200)
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    with frozen_server(pg_url, freeze_on=b"COPY events", nth=2) as server:
        result = _casework("import-log", str(log), "--definition", "k", "--db", _with_password(server.url(pg_url)),
                           env=env)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and f"127.0.0.1:{server.port}" in line and "sent no reply" in line, line
    assert SECRET not in line
    with Store.open(pg_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as store:
        assert store.counts() == (500, 2000)  # the first batch, whole (a case_imported and 3 rows each)
        report = verify(store)
        assert report.ok, report.problems
    again = _casework("import-log", str(log), "--definition", "k", "--db", pg_url, env=env)
    assert again.returncode == 0 and "700 cases, 2800 events imported, 500 already present" in again.stdout, again


def test_a_lock_held_longer_than_casework_pg_lock_timeout_fails_the_command_in_one_line(
    pg_url: str, tmp_path: Path
) -> None:
    log = _log(tmp_path, 3)
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), LOCK_TIMEOUT_ENV: "1"}
    with Store.open(pg_url, audit_key=tmp_path / "audit.key"):
        pass
    other = create_engine(parse_url(pg_url))
    try:
        with other.connect() as holder, holder.begin():  # a psql session that took a lock and went to lunch
            holder.execute(text("LOCK TABLE cases IN ACCESS EXCLUSIVE MODE"))
            # CASEWORK_PG_LOCK_TIMEOUT=1 against the default 30 s: waiting out the default fails this bound.
            result = subprocess.run([sys.executable, "-m", "casework", "import-log", str(log), "--definition", "k",
                                     "--db", pg_url], capture_output=True, text=True, timeout=20,
                                    env={**os.environ, **env})
    finally:
        other.dispose()
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    host = make_url(pg_url)
    assert line.startswith(f"error: the database at {host.host}:{host.port or 5432} failed: canceling statement "
                           "due to lock timeout: another session held a lock"), line
    assert "CASEWORK_PG_LOCK_TIMEOUT" in line and line.endswith("nothing was imported"), line


def test_a_statement_longer_than_the_statement_timeout_is_cancelled_unless_the_url_or_an_exemption_allows_it(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATEMENT_TIMEOUT_ENV, "1")
    monkeypatch.delenv(NETWORK_TIMEOUT_ENV, raising=False)
    with Store.open(pg_url, audit_key=tmp_path / "audit.key") as store:
        error = sleep_in_read(store, 3)
        assert error is not None, "a statement ran past CASEWORK_PG_STATEMENT_TIMEOUT"
        line = environment_error(error)
        assert line is not None and "statement timeout" in line and "CASEWORK_PG_STATEMENT_TIMEOUT" in line, line
        assert f"{make_url(pg_url).host}:" in line, line
        # A statement whose length grows with the store (a migration, ANALYZE) runs unbounded, and the session's
        # bound is back after it.
        from casework.store.pgbounds import unbounded

        with store.engine.begin() as conn, unbounded(conn):
            conn.execute(text("SELECT pg_sleep(1.5)"))
        assert sleep_in_read(store, 3) is not None
    # The URL's own statement_timeout wins over casework's, and so does the client's deadline that follows it.
    with Store.open(f"{pg_url}%20-cstatement_timeout%3D5s", audit_key=tmp_path / "audit.key") as store:
        assert sleep_in_read(store, 1.5) is None
        with store.engine.connect() as conn:
            assert conn.connection.driver_connection.reply_timeout == 5 + 30  # type: ignore[union-attr]


def test_a_read_on_a_backend_paused_with_sigstop_fails_in_one_line_and_the_server_serves_the_next(
    pg_url: str, tmp_path: Path, bounded: None
) -> None:
    """The server's own process paused, as a frozen host pauses it: its kernel still acknowledges the request."""
    import signal

    with Store.open(pg_url, audit_key=tmp_path / "audit.key") as store:
        with store.read() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()  # the pooled connection's backend
        try:
            os.kill(pid, signal.SIGSTOP)
        except (PermissionError, ProcessLookupError) as exc:  # another user's process, or on another machine
            pytest.skip(f"cannot pause the server's process {pid} from here: {exc}")
        try:
            outcome: list[Any] = []
            thread = threading.Thread(target=lambda: outcome.append(sleep_in_read(store, 0)), daemon=True)
            thread.start()
            thread.join(HANG)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert outcome, f"still waiting {HANG} s after the server's process was paused (the bounds are {BOUND} s)"
        error = outcome[0]
        assert isinstance(error, DBAPIError), f"succeeded on a paused server: {error!r}"
        line = environment_error(error)
        host = make_url(pg_url)
        assert line is not None and "\n" not in line and f"{host.host}:{host.port or 5432} sent no reply" in line
        assert sleep_in_read(store, 0) is None  # a new connection, to a server that answers


def test_a_case_command_on_a_server_that_freezes_as_it_writes_is_one_error_line_and_nothing_is_written(
    pg_url: str, tmp_path: Path
) -> None:
    """`casework case set-data` whose write meets a frozen server: one line on standard error, exit 2, naming the
    server, and the case as it was (the group committer's pipeline, then the settling attempt's connect bound)."""
    shared = shared_dir()
    if shared is None or not (shared / "bench" / "claim.cmmn").exists():
        pytest.skip("the shared corpus (bench/claim.cmmn) is not available")
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    with Store.open(pg_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as store:
        svc = CaseService(store, clock=lambda: T0)
        svc.deploy((shared / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
        case_id = svc.start_case("claim", {"amount": 10}).case_id
        svc.close()
        before = [e.hash for e in store.events(case_id)]
    with frozen_server(pg_url, freeze_on=b"UPDATE cases") as server:
        result = _casework("case", "set-data", case_id, "--data", '{"amount": 20}', "--as", "ann", "--db",
                           _with_password(server.url(pg_url)), env=env)
        assert server.frozen
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: case {case_id}: ") and "may or may not have been written" in line, line
    assert f"127.0.0.1:{server.port} sent no reply" in line and SECRET not in line, line
    with Store.open(pg_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as store:
        assert [e.hash for e in store.events(case_id)] == before
        report = verify(store)
        assert report.ok, report.problems
