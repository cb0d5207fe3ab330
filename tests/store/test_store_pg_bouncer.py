"""casework behind PgBouncer in transaction pooling mode (CASEWORK_PG_POOLER=transaction), where each transaction
may run on another server connection that other clients share (`bouncer.pgbouncer`). The bounds are the
transaction's own, sent with its BEGIN (`pgbounds.BoundedConnection`); before, they were set once per session:
missing on the next server connection, and passed on to the other clients of this one. Prepared statements are off:
psycopg prepared its queries on the server after five runs, which the next server connection did not have."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bouncer import Bouncer
from sqlalchemy import text
from waiting import sleep_in_read

from casework.engine import commands
from casework.service import CaseService
from casework.store import Store
from casework.store.testing import postgres_base_url, run_casework

STATEMENT_TIMEOUT_ENV = "CASEWORK_PG_STATEMENT_TIMEOUT"
LOCK_TIMEOUT_ENV = "CASEWORK_PG_LOCK_TIMEOUT"
POOLER_ENV = "CASEWORK_PG_POOLER"
MODEL = Path(__file__).parents[2] / "src" / "casework" / "demo" / "models" / "insurance_claim.cmmn"
ONE_SERVER_CONNECTION = pytest.mark.parametrize("bouncer", [1], indirect=True)


@pytest.fixture(autouse=True)
def transaction_pooling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(POOLER_ENV, "transaction")
    for name in (STATEMENT_TIMEOUT_ENV, LOCK_TIMEOUT_ENV, "PGOPTIONS"):
        monkeypatch.delenv(name, raising=False)


def _shown(url: str, setting: str) -> str:
    """`setting` as a transaction of a new client connection to `url` sees it."""
    with psycopg.connect(url) as conn:
        value = conn.execute(f"SHOW {setting}").fetchone()
    assert value is not None
    return str(value[0])


def _end_server_connection(url: str) -> None:
    """Another client ends the server connection PgBouncer gives it (the only one of a pool of one): the pool's next
    transaction runs on a new server connection, as it may on another one at any time in transaction mode."""
    with pytest.raises(psycopg.OperationalError), psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")


@ONE_SERVER_CONNECTION
def test_caseworks_bounds_do_not_reach_another_client_sharing_its_server_connection(
    bouncer: Bouncer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_default = {name: _shown(postgres_base_url(), name) for name in ("statement_timeout", "lock_timeout",
                                                                          "default_transaction_read_only")}
    monkeypatch.setenv(STATEMENT_TIMEOUT_ENV, "7")
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "3")
    with Store.open(bouncer.url, audit_key=tmp_path / "audit.key") as store:
        with store.read() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "7s"
            assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "3s"
        assert _shown(bouncer.url, "statement_timeout") == server_default["statement_timeout"]
        assert _shown(bouncer.url, "lock_timeout") == server_default["lock_timeout"]
    # A command that only reads makes its transactions read-only, not the server connection's every transaction.
    with Store.open(bouncer.url, audit_key=tmp_path / "audit.key", read_only=True) as store:
        with store.read() as conn:
            assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
        assert _shown(bouncer.url, "default_transaction_read_only") == server_default["default_transaction_read_only"]
        with psycopg.connect(bouncer.url) as other:
            other.execute("CREATE TABLE written (n int)")  # another client may still write


@ONE_SERVER_CONNECTION
def test_a_statement_past_the_statement_timeout_is_cancelled_on_every_server_connection_it_runs_on(
    bouncer: Bouncer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATEMENT_TIMEOUT_ENV, "1")
    with Store.open(bouncer.url, audit_key=tmp_path / "audit.key") as store:
        for _ in range(2):
            _end_server_connection(bouncer.url)
            error = sleep_in_read(store, 3)
            assert error is not None and "statement timeout" in str(error), error
        # Every way a transaction begins carries it: on the driver (the hot reads), in a pipeline (the group
        # committer's writes), in a server-side cursor's transaction (the streamed reads).
        fairy = store.engine.raw_connection()
        try:
            driver: Any = fairy.driver_connection
            for way in ("driver", "pipeline", "server-side cursor"):
                _end_server_connection(bouncer.url)
                with contextlib.ExitStack() as stack:
                    if way == "pipeline":
                        stack.enter_context(driver.pipeline())
                    cur = driver.cursor("streamed") if way == "server-side cursor" else driver.cursor()
                    cur.execute("SELECT current_setting('statement_timeout')")
                    assert cur.fetchone() == ("1s",), way
                    cur.close()
                driver.rollback()
        finally:
            fairy.close()


def test_the_urls_own_statement_timeout_wins_although_pgbouncer_drops_it(bouncer: Bouncer, tmp_path: Path) -> None:
    """PgBouncer drops the `options` its `ignore_startup_parameters` lists (and refuses them otherwise): casework
    reads them itself, and its client deadline follows."""
    with Store.open(f"{bouncer.url}?options=-c%20statement_timeout%3D5s%20--lock-timeout%3D2min",
                    audit_key=tmp_path / "audit.key") as store, store.read() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "5s"
        assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "2min"
        assert conn.connection.driver_connection.reply_timeout == 5 + 30  # type: ignore[union-attr]


@ONE_SERVER_CONNECTION
def test_commands_of_two_services_and_many_threads_share_one_server_connection(
    bouncer: Bouncer, tmp_path: Path
) -> None:
    """Two services (as two processes would), each with threads of its own, write commands through one server
    connection: the group committers' repeated statements, prepared by psycopg after five commits, collided there
    ("prepared statement _pg3_5 already exists")."""
    threads_each, commands_each = 3, 12
    with Store.open(bouncer.url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as one, \
            Store.open(bouncer.url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs") as other:
        services = [CaseService(one), CaseService(other)]
        services[0].deploy(MODEL.read_text(encoding="utf-8"))
        cases = [(svc, svc.start_case("insuranceClaim", {"amount": 900}).case_id)
                 for svc in services for _ in range(threads_each)]
        errors: list[BaseException] = []

        def client(svc: CaseService, case_id: str) -> None:
            try:
                for n in range(commands_each):
                    svc.execute(case_id, commands.SetVariables(variables={"amount": 1000 + n}, actor="ann"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=client, args=case) for case in cases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [svc.state(case_id).variables["amount"] for svc, case_id in cases] == [1000 + commands_each - 1] * 6
        for svc in services:
            svc.close()


def test_import_log_audit_verify_and_export_work_through_pgbouncer(bouncer: Bouncer, tmp_path: Path) -> None:
    """The commands that stream (server-side cursors, a REPEATABLE READ snapshot) and COPY, through PgBouncer."""
    cases = 30
    log = tmp_path / "claims.csv"
    rows = [f"c{i},{step},2024-05-0{1 + day}T09:00:00,ann" for i in range(cases)
            for day, step in enumerate(("Register", "Decide"))]
    log.write_text("case_id,activity,timestamp,resource\n" + "\n".join(rows) + "\n", encoding="utf-8")
    env = {POOLER_ENV: "transaction", "CASEWORK_DB": bouncer.url, "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"),
           "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    imported = run_casework("import-log", str(log), "--definition", "claims", env=env)
    assert imported.returncode == 0, imported.stderr
    verified = run_casework("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{cases} cases, {cases * 3} events, ok" in verified.stdout, verified.stdout
    exported = run_casework("export", "--format", "csv", "-o", str(tmp_path / "out.csv"), env=env)
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()) == 1 + cases * 2
