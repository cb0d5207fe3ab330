"""`casework audit ...` from the command line: what it says, and its exit code, when it cannot check everything."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from casework.audit.checkpoints import signing_key, write_checkpoint
from casework.cli import app
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store
from casework.store.url import parse_url

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MODEL = """<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="permit" name="Permit">
    <casePlanModel id="plan" name="Permit">
      <planItem id="pCheck" definitionRef="check"/>
      <humanTask id="check" name="Check plans"/>
    </casePlanModel>
  </case>
</definitions>
"""


def _run(*args: str, key: str | None = None) -> tuple[int, str]:
    # The key in the environment, if any, is the only one besides the database's default key path.
    result = CliRunner().invoke(app, list(args), env={"CASEWORK_AUDIT_KEY": key})
    return result.exit_code, result.output


@pytest.fixture
def sealed(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database whose events are all sealed by checkpoints signed with tmp_path/sealing.key; neither its default
    key path (beside a SQLite file, or ./casework-audit.key for PostgreSQL, run from tmp_path/run) holds a key."""
    (tmp_path / "run").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    with Store.open(db_url, audit_key=tmp_path / "sealing.key") as store, CaseService(store) as svc:
        svc.deploy(MODEL)
        case_id = svc.start_case("permit", {}, case_id="p1", now=T0).case_id
        svc.execute(case_id, commands.CompleteItem(item="Check plans", actor="ann"), now=T0)
    return db_url


def _default_key(db_url: str, tmp_path: Path) -> Path:
    return Path(str(parse_url(db_url).database) + ".audit-key") if db_url.startswith("sqlite") else (
        tmp_path / "run" / "casework-audit.key")


def test_a_database_checked_without_its_key_is_not_called_ok(sealed: str, tmp_path: Path) -> None:
    code, out = _run("audit", "verify", "--db", sealed)
    no_key = f"no key at {_default_key(sealed, tmp_path)}"
    assert code == 2, out
    assert f"hash chains ok, but the signatures of 1 checkpoint were NOT checked: {no_key}" in out
    assert f"error: signed checkpoints (1) were not checked: {no_key}; pass --public-key" in out
    code, out = _run("audit", "verify", "--db", sealed, "--json")
    assert code == 2 and '"signatures_checked": false' in out and '"complete": false' in out

    assert _run("audit", "verify", "--db", sealed, "--public-key", str(tmp_path / "sealing.key")) == (
        0, "audit: 1 cases, 7 events, ok\n")
    assert _run("audit", "verify", "--db", sealed, key=str(tmp_path / "sealing.key"))[0] == 0


def test_a_checkpoint_with_nothing_to_seal_makes_no_key(sealed: str, tmp_path: Path) -> None:
    # The database was sealed by a key the default path does not hold: said now, not at the next event.
    code, out = _run("audit", "checkpoint", "--db", sealed)
    assert code == 2 and out.startswith(f"error: no audit key at {_default_key(sealed, tmp_path)}, but this "
                                        "database's checkpoints were signed by the key of fingerprint "), out
    assert not _default_key(sealed, tmp_path).exists()
    assert _run("audit", "verify", "--db", sealed)[0] == 2  # still unchecked, not "signed by a different key"
    assert _run("audit", "checkpoint", "--db", sealed, key=str(tmp_path / "sealing.key")) == (0, "nothing to seal\n")


def test_a_checkpoint_with_nothing_to_seal_checks_the_key_it_would_sign_with(sealed: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.key"
    junk.write_text("junk\n")
    assert _run("audit", "checkpoint", "--db", sealed, key=str(junk)) == (
        2, f"error: {junk} is not a PEM key file of an Ed25519 key\n")
    other = tmp_path / "other.key"
    with Store.open(f"sqlite:///{tmp_path / 'other.db'}", audit_key=other) as store:
        write_checkpoint(store)  # an empty store: makes no key, so make one
        signing_key(store)
    code, out = _run("audit", "checkpoint", "--db", sealed, key=str(other))
    assert code == 2 and out.startswith(f"error: the audit key at {other} (fingerprint "), out
    assert junk.read_text() == "junk\n"


def test_a_new_database_with_nothing_to_seal_needs_no_key(db_url: str, tmp_path: Path) -> None:
    with Store.open(db_url, audit_key=tmp_path / "unused.key"):
        pass
    assert _run("audit", "checkpoint", "--db", db_url, key=str(tmp_path / "new.key")) == (0, "nothing to seal\n")
    assert not (tmp_path / "new.key").exists()


def test_a_key_that_cannot_be_read_is_a_one_line_error(sealed: str, tmp_path: Path) -> None:
    missing = tmp_path / "nope.key"
    assert _run("audit", "verify", "--db", sealed, "--public-key", str(missing)) == (
        2, f"error: cannot read the key file {missing}: No such file or directory\n")
    junk = tmp_path / "junk.key"
    junk.write_text("junk\n")
    refused = (2, f"error: {junk} is not a PEM key file of an Ed25519 key\n")
    assert _run("audit", "verify", "--db", sealed, key=str(junk)) == refused
    with Store.open(sealed) as store, store.engine.begin() as conn:
        conn.execute(text("DELETE FROM checkpoints"))  # so that there is something to sign
    assert _run("audit", "checkpoint", "--db", sealed, key=str(junk)) == refused
    with Store.open(sealed) as store, store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM checkpoints")).scalar() == 0


def test_a_corrupted_payload_is_named_by_the_command(sealed: str, tmp_path: Path) -> None:
    with Store.open(sealed) as store, store.engine.begin() as conn:
        if store.is_sqlite:
            conn.execute(text("DROP TRIGGER IF EXISTS events_no_update"))
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
        conn.execute(text("UPDATE events SET payload = '{broken' WHERE case_id = 'p1' AND seq = 2"))
    code, out = _run("audit", "verify", "--db", sealed, key=str(tmp_path / "sealing.key"))
    assert code == 1 and out.startswith("audit: FAILED: first broken link: case p1 seq 2 (event #2): content does")
    assert "Traceback" not in out


@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "state-at", "p1"]])
def test_a_database_that_is_not_casework_s_is_refused_untouched(db_url: str, tmp_path: Path,
                                                                command: list[str]) -> None:
    engine = create_engine(parse_url(db_url), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER)"))
    before = Path(str(parse_url(db_url).database)).read_bytes() if db_url.startswith("sqlite") else b""
    code, out = _run(*command, "--db", db_url)
    assert code == 2 and out == f"error: {db_url} is not a casework database\n"
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == ["customers"]
    engine.dispose()
    if db_url.startswith("sqlite"):
        db = Path(str(parse_url(db_url).database))
        assert db.read_bytes() == before  # not even switched to WAL mode
        assert sorted(p.name for p in db.parent.iterdir() if p.name.startswith(db.name)) == [db.name]


def test_documents_whose_blob_folder_is_missing_are_not_called_ok(db_url: str, tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    with Store.open(db_url, audit_key=tmp_path / "k", blob_dir=blobs) as store, CaseService(store) as svc:
        svc.deploy(MODEL)
        svc.start_case("permit", {}, case_id="p1", now=T0)
        svc.add_document("p1", "plan.pdf", b"%PDF plan", media_type="application/pdf", actor="ann", now=T0)
    elsewhere = tmp_path / "moved"  # the folder not copied with the database, or another working folder
    result = CliRunner().invoke(app, ["audit", "verify", "--db", db_url],
                                env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k"), "CASEWORK_BLOBS": str(elsewhere)})
    assert result.exit_code == 2, result.output  # before: exit 0 and "ok", with a note
    assert result.stdout == ("audit: 1 cases, 6 events, hash chains ok, but the bytes of 1 documents were NOT "
                             f"checked: no blob folder at {elsewhere}\n")
    assert f"error: the bytes of 1 audited documents were not checked: no blob folder at {elsewhere}" in (
        result.stderr)
    found = CliRunner().invoke(app, ["audit", "verify", "--db", db_url],
                               env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k"), "CASEWORK_BLOBS": str(blobs)})
    assert (found.exit_code, found.output) == (0, "audit: 1 cases, 6 events, ok\n")
