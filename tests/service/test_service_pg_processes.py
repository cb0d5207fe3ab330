"""Several real processes on one PostgreSQL database, each with its own service and audit checkpointer: one log,
sealed by checkpoints that neither overlap nor leave gaps, that verifies while they write and after, and still
catches an edited or deleted event; business and idempotency keys raced from every process start one case each; and
a process killed while it seals, or while it commits a batch of commands, loses nothing it acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from helpers_service import Backends, shared_path
from sqlalchemy import text

from casework.audit.checkpoints import write_checkpoint
from casework.audit.verify import verify
from casework.store import Store
from casework.store.testing import run_casework

CHILD = Path(__file__).with_name("pg_writer.py")
CASES = 4  # per thread; 4 threads per process


def _spawn(url: str, key: Path, name: str, mode: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), url, str(key), str(shared_path("bench", "claim.cmmn")), name, str(CASES),
         *([mode] if mode else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


class Acks:
    """What the children acknowledged: each case's highest version, and the case each key was answered with."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.keys: dict[str, set[str]] = defaultdict(set)
        self.errors: list[str] = []

    def read(self, line: str) -> None:
        if line.startswith("ERR"):
            self.errors.append(line)
            return
        _, case_id, version, business_key, idempotency_key = line.split()
        self.versions[case_id] = max(self.versions.get(case_id, 0), int(version))
        for key in (business_key, idempotency_key):
            if key != "None":
                self.keys[key].add(case_id)

    def check_stored(self, store: Store) -> None:
        for case_id, version in self.versions.items():
            row = store.case(case_id)
            assert row is not None, f"acknowledged case {case_id} is missing"
            assert row.version >= version, f"case {case_id}: acknowledged v{version}, stored v{row.version}"


def _rest(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """What the child writes from here on, until it ends: read through the pipes' file objects, since reading a line
    from one (READY, or the word to kill it at) may have read lines after it into their buffer, which
    `communicate` (reading the pipes below them) never returned: a child's whole output was lost that way."""
    assert proc.stdout is not None and proc.stderr is not None
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()))  # type: ignore[union-attr]
    reader.start()
    out = proc.stdout.read()
    reader.join(timeout=600)
    proc.wait(timeout=600)
    proc.stdout.close()
    proc.stderr.close()
    return out, err[0] if err else ""


def _finish(procs: list[subprocess.Popen[str]], acks: Acks) -> None:
    for proc in procs:
        out, err = _rest(proc)
        lines = out.splitlines()
        for line in lines:
            if line.startswith(("ACK", "ERR")):
                acks.read(line)
        if proc.returncode != -signal.SIGKILL:
            assert proc.returncode == 0 and lines[-1] == "DONE", err[-3000:]


def _sealed_whole(store: Store) -> None:
    """Every event sealed, by checkpoints each of which begins where the one before it ended."""
    report = verify(store)
    assert report.ok, report.problems
    assert report.sealed_events == report.events
    assert report.witnessed == report.checkpoints  # each one also in the witness file, whatever process wrote it
    with store.read() as conn:
        ends = list(conn.execute(text("SELECT last_event_id FROM checkpoints ORDER BY id")).scalars())
    assert ends == sorted(set(ends)), "two checkpoints over one range, or one written behind another"


def _tamper(store: Store, sql: str, **params: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
        conn.execute(text(sql), params)
        conn.execute(text("ALTER TABLE events ENABLE TRIGGER events_append_only"))


def test_four_processes_with_their_own_checkpointers_write_one_sealed_log(pg_url: str, tmp_path: Path) -> None:
    key = tmp_path / "audit.key"
    Store.open(pg_url, audit_key=key).close()  # migrated once, before the race
    procs = [_spawn(pg_url, key, f"p{i}") for i in range(4)]
    acks = Acks()
    with Store.open(pg_url, audit_key=key) as store:
        runs = 0
        while runs < 3 or any(p.poll() is None for p in procs):
            # While they write and seal: what is not yet committed, or not yet sealed, is no broken link.
            report = verify(store)
            assert report.ok, report.problems
            runs += 1
        _finish(procs, acks)
        assert not acks.errors
        acks.check_stored(store)
        # Every process raced for the same keys at once: one case each, and every process was answered with it.
        for name in [f"shared-{i}" for i in range(4)] + [f"once-{i}" for i in range(4)]:
            assert len(acks.keys[name]) == 1, (name, acks.keys[name])
        with store.read() as conn:
            duplicates = conn.execute(text("SELECT business_key FROM cases WHERE business_key IS NOT NULL "
                                           "GROUP BY business_key HAVING count(*) > 1")).all()
            n_cases = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        assert not duplicates
        assert n_cases == 4 * 4 * (CASES - 1) + 4  # the keyed first case of each thread number, once
        _sealed_whole(store)
        result = run_casework("audit", "verify", "--db", pg_url, env={"CASEWORK_AUDIT_KEY": str(key)})
        assert result.returncode == 0, result.stdout + result.stderr
        # And the sealed log still tells an edit, and a deletion, from the truth.
        with store.read() as conn:
            middle = conn.execute(text("SELECT id, case_id, seq FROM events ORDER BY id "
                                       "OFFSET (SELECT count(*) / 2 FROM events) LIMIT 1")).one()
        _tamper(store, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=middle.id)
        report = verify(store)
        assert not report.ok and report.problems[0].case_id == middle.case_id
        result = run_casework("audit", "verify", "--db", pg_url, env={"CASEWORK_AUDIT_KEY": str(key)})
        assert result.returncode == 1, result.stdout + result.stderr
        _tamper(store, "DELETE FROM events WHERE id = :id", id=middle.id)
        report = verify(store)
        assert not report.ok and report.problems[0].case_id == middle.case_id


def _kill_at(proc: subprocess.Popen[str], word: str, acks: Acks) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(("ACK", "ERR")):
            acks.read(line)
        if line.strip() == word:
            break
    else:
        pytest.fail(f"the child ended without saying {word}: {proc.stderr.read() if proc.stderr else ''}")
    proc.send_signal(signal.SIGKILL)
    for line in _rest(proc)[0].splitlines():  # acknowledged before the kill, read after it
        if line.startswith(("ACK", "ERR")):
            acks.read(line)


@pytest.mark.parametrize("mode,word", [("seal-and-hang", "SEALING"), ("hold-commit", "COMMITTING")])
def test_a_process_killed_while_it_seals_or_commits_a_batch_loses_nothing(
    pg_url: str, tmp_path: Path, mode: str, word: str
) -> None:
    key = tmp_path / "audit.key"
    Store.open(pg_url, audit_key=key).close()
    doomed = _spawn(pg_url, key, "doomed", mode)
    others = [_spawn(pg_url, key, f"p{i}") for i in range(2)]
    acks = Acks()
    _kill_at(doomed, word, acks)  # the others wait on the events table while it seals, and go on once it is dead
    _finish(others, acks)
    assert not acks.errors
    with Store.open(pg_url, audit_key=key) as store:
        acks.check_stored(store)
        write_checkpoint(store)  # the next checkpoint seals what the dead process did not
        _sealed_whole(store)


def test_connections_dropped_under_three_processes_lose_nothing_acknowledged(pg_url: str, tmp_path: Path) -> None:
    """The server ends every session of the writers, again and again, as a restart would: what fails says so in one
    line, what was acknowledged is stored, nothing is written twice, and the log verifies."""
    key = tmp_path / "audit.key"
    Store.open(pg_url, audit_key=key).close()
    name = f"casework-test-{uuid.uuid4().hex[:12]}"
    procs = [_spawn(f"{pg_url}&application_name={name}", key, f"p{i}") for i in range(3)]
    backends = Backends(os.environ["CASEWORK_TEST_POSTGRES_URL"], name)
    acks = Acks()
    for proc in procs:  # open and deployed: from here on, every failure is a command's
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
    try:
        terminated = 0
        while any(p.poll() is None for p in procs):
            terminated += backends.terminate()
            threading.Event().wait(0.3)
        _finish(procs, acks)
    finally:
        backends.admin.dispose()
    assert terminated
    assert all(" clear " in line for line in acks.errors), acks.errors
    with Store.open(pg_url, audit_key=key) as store:
        acks.check_stored(store)
        with store.read() as conn:  # each task completed once in its case: no command applied twice
            twice = conn.execute(text("SELECT case_id, payload FROM events WHERE type = 'item_transition' "
                                      "GROUP BY case_id, payload HAVING count(*) > 1")).all()
        assert not twice
        write_checkpoint(store)
        _sealed_whole(store)
