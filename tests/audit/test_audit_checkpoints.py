"""Checkpointer: a checkpoint every N events, or T seconds after the first unsealed event, and on close."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection

from casework.audit.checkpoints import Checkpointer
from casework.audit.hashing import GENESIS
from casework.audit.verify import verify
from casework.store import NewEvent, Store
from casework.store import writes as w

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as s:
        yield s


def _case(store: Store, n: int) -> None:
    case_id = uuid.uuid4().hex
    rows = w.event_rows(case_id, 1, GENESIS, [NewEvent("e", NOW.isoformat(), "ann", None, {"i": i}) for i in range(n)])

    def work(conn: Connection) -> None:
        w.insert_case(conn, case_id=case_id, definition_key="k", definition_version=1, business_key=None,
                      status="active", version=n, last_hash=rows[-1]["hash"], snapshot={}, now=NOW)
        w.insert_events(conn, rows)

    store.write(work)


def _sealed(store: Store) -> tuple[int, int]:
    """(events covered by a signed checkpoint, checkpoints); the log must verify."""
    report = verify(store, snapshots=False)  # the cases here hold no engine state
    assert report.ok, report.problems
    return report.sealed_events, report.checkpoints


def test_a_quiet_spell_after_a_few_events_is_sealed_by_the_timer(store: Store) -> None:
    cp = Checkpointer(store, every_events=1000, every_seconds=0.2)
    try:
        _case(store, 3)
        cp.note(3)
        _case(store, 2)
        cp.note(2)
        assert _sealed(store) == (0, 0)  # nothing yet: 5 events are far from 1000
        deadline = time.monotonic() + 10
        while _sealed(store) != (5, 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _sealed(store) == (5, 1)  # one checkpoint for both, with no further command to trigger it
    finally:
        cp.close()
    assert _sealed(store) == (5, 1)  # nothing left to seal on close


def test_the_event_count_seals_at_once_and_close_seals_the_rest(store: Store) -> None:
    cp = Checkpointer(store, every_events=4, every_seconds=3600)
    _case(store, 4)
    cp.note(4)
    assert _sealed(store) == (4, 1)  # written before note() returned
    _case(store, 1)
    cp.note(1)
    assert _sealed(store) == (4, 1)
    cp.close()
    assert _sealed(store) == (5, 2)  # a graceful shutdown leaves nothing unsealed
    _case(store, 1)
    cp.note(1)  # closed: no timer, no checkpoint
    assert cp._timer is None and _sealed(store) == (5, 2)


def test_a_timer_that_fires_after_the_store_closed_writes_nothing(db_url: str, tmp_path: Path) -> None:
    store = Store.open(db_url, audit_key=tmp_path / "audit.key")
    cp = Checkpointer(store, every_events=1000, every_seconds=0.1)
    _case(store, 2)
    cp.note(2)
    timer = cp._timer
    assert timer is not None
    store.close()
    timer.join(5)  # fired: it found the store closed
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as again:
        assert _sealed(again) == (0, 0)


def _other_key(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


@pytest.mark.parametrize("key_file", ["missing", "another key"])
def test_a_sealed_database_is_not_sealed_by_a_new_or_another_key(db_url: str, tmp_path: Path, key_file: str) -> None:
    from casework.audit.checkpoints import AuditKeyError, write_checkpoint

    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store:
        _case(store, 2)
        assert write_checkpoint(store) == 1
    # The key file was not restored with the database, or a PostgreSQL store is reached from another folder.
    elsewhere = tmp_path / "elsewhere.key"
    if key_file == "another key":
        _other_key(elsewhere)
    with Store.open(db_url, audit_key=elsewhere) as store:
        _case(store, 1)
        with pytest.raises(AuditKeyError, match=r"not the key that signed|no audit key at"):
            write_checkpoint(store)
        cp = Checkpointer(store, every_events=1, every_seconds=3600)
        with pytest.raises(AuditKeyError):
            cp.note(1)
        cp.close()
        assert elsewhere.exists() == (key_file == "another key")  # no key minted for a sealed database
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store:
        assert _sealed(store) == (2, 1)  # every checkpoint still verifies with the database's key
        assert write_checkpoint(store) == 2  # and that key seals what was left
        assert _sealed(store) == (3, 2)


def test_a_key_that_could_not_be_written_whole_leaves_no_key_file(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    import casework
    from casework.audit.checkpoints import load_or_create_key

    # A full disk, made without root: the process may write files of 40 bytes at most (a key's PEM is 119).
    script = textwrap.dedent("""
        import resource, signal, sys
        from pathlib import Path
        from casework.audit.checkpoints import load_or_create_key
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (40, resource.RLIM_INFINITY))
        try:
            load_or_create_key(Path(sys.argv[1]))
        except ValueError as exc:  # AuditKeyError
            print(exc)
    """)
    key = tmp_path / "keys" / "audit.key"
    key.parent.mkdir()
    env = {"PYTHONPATH": str(Path(casework.__file__).parents[1]), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(key)], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == f"cannot write the key file {key}: File too large", done.stderr
    assert list(key.parent.iterdir()) == []  # before: a 40-byte key file that no checkpoint could read again
    assert load_or_create_key(key) is not None and key.stat().st_mode & 0o777 == 0o600


def test_a_key_file_others_can_read_is_used_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from casework.audit.checkpoints import load_or_create_key

    key = tmp_path / "audit.key"
    created = load_or_create_key(key)
    with caplog.at_level("WARNING", logger="casework.audit.checkpoints"):
        load_or_create_key(key)  # 0600 as created: nothing to say
        assert caplog.records == []
        key.chmod(0o644)
        assert load_or_create_key(key).public_key() == created.public_key()  # still used: its checkpoints go on
        load_or_create_key(key)  # said once per file, not at every checkpoint
    assert [r.getMessage() for r in caplog.records] == [
        f"the audit key {key} can be read by other users (mode 644): whoever reads it can sign forged checkpoints; "
        "make it readable by its owner only (chmod 600)"
    ]
