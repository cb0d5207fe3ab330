"""Schema revisions the operator meets: a database written by a newer casework, and an older one opened by a
command that only reads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from casework.cli import app
from casework.store import Store
from casework.store.migrate import alembic_config, head_revision
from casework.store.url import create_store_engine

LOG = "case_id,activity,timestamp\nc1,Open,2026-01-01T09:00:00\nc1,Close,2026-01-01T10:00:00\n"


def _revision(db_url: str) -> str:
    engine = create_store_engine(db_url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()


def _set_revision(db_url: str, revision: str) -> None:
    engine = create_store_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        engine.dispose()


def _at_revision(db_url: str, revision: str) -> None:
    """A database as an older casework left it: migrated up to `revision` only."""
    from alembic import command

    engine = create_store_engine(db_url)
    cfg = alembic_config()
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(casework_write=True)
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def _digest(db_url: str) -> str | None:
    if not db_url.startswith("sqlite"):
        return None
    path = Path(db_url.removeprefix("sqlite:///"))
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*"))
                                   if p.is_file())).hexdigest()


@pytest.mark.parametrize("command", [["audit", "verify"], ["tasks"], ["audit", "checkpoint"], ["import-log"]])
def test_a_database_of_a_newer_casework_is_refused_by_name_and_left_alone(
    db_url: str, tmp_path: Path, command: list[str]
) -> None:
    with Store.open(db_url, audit_key=tmp_path / "k"):
        pass
    _set_revision(db_url, "0099")
    if command == ["import-log"]:
        log = tmp_path / "log.csv"
        log.write_text(LOG)
        command = ["import-log", str(log), "--definition", "k"]
    result = CliRunner().invoke(app, [*command, "--db", db_url], env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert result.exit_code == 2, result.output
    assert "schema is at revision 0099, which this casework does not know" in result.output
    assert "a newer casework wrote it" in result.output and "Traceback" not in result.output
    assert _revision(db_url) == "0099"
    from casework.store.migrate import SchemaError

    with pytest.raises(SchemaError, match="newer casework"):
        Store.open(db_url, audit_key=tmp_path / "k")


@pytest.mark.parametrize("command", [
    ["audit", "verify"], ["audit", "state-at", "c1", "--seq", "1"], ["tasks"], ["export", "--format", "csv", "-o", "-"],
    ["suggest", "flags"], ["suggest", "feedback"],
])
def test_a_read_only_command_does_not_upgrade_an_older_database(
    db_url: str, tmp_path: Path, command: list[str]
) -> None:
    _at_revision(db_url, "0003")
    before = _digest(db_url)
    result = CliRunner().invoke(app, [*command, "--db", db_url])
    assert result.exit_code == 2, result.output
    name = " ".join(command[:2] if command[0] in ("audit", "suggest") else command[:1])
    assert f"has an older schema (revision 0003; this casework needs {head_revision()})" in result.output
    assert f"`casework {name}` only reads" in result.output and "casework reproject --db" in result.output
    assert _revision(db_url) == "0003" and _digest(db_url) == before
    # the command it names upgrades it, and then the reading command reads
    upgraded = CliRunner().invoke(app, ["reproject", "--db", db_url])
    assert upgraded.exit_code == 0, upgraded.output
    assert _revision(db_url) == head_revision()
    assert CliRunner().invoke(app, ["audit", "verify", "--db", db_url]).exit_code == 0


@pytest.mark.parametrize("command", [
    ["audit", "verify"], ["audit", "state-at", "c1", "--seq", "1"], ["tasks"], ["export", "--format", "csv", "-o", "-"],
    ["suggest", "flags"], ["suggest", "feedback"],
])
def test_a_read_only_command_leaves_the_file_as_it_was(sqlite_url: str, tmp_path: Path, command: list[str]) -> None:
    import sqlite3

    with Store.open(sqlite_url, audit_key=tmp_path / "k"):
        pass
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as conn:  # a copy made with the sqlite3 shell's .backup, or an older tool's
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    before = path.read_bytes()
    result = CliRunner().invoke(app, [*command, "--db", sqlite_url], env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert result.exit_code in (0, 2), result.output  # state-at: no such case
    assert path.read_bytes() == before  # before: switched to WAL mode, the file's header rewritten
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name)) == [path.name]


def test_the_head_revision_casework_knows_without_alembic_is_the_newest_migration() -> None:
    # migrate.HEAD spares every command Alembic's import; a migration added without raising it would leave databases
    # a revision behind, and the read-only commands would refuse every current one.
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_the_revision_is_read_as_alembic_reads_it(db_url: str, tmp_path: Path) -> None:
    from alembic.runtime.migration import MigrationContext

    from casework.store.migrate import revision_of

    Store.open(db_url, audit_key=tmp_path / "k").close()
    engine = create_store_engine(db_url)
    try:
        with engine.connect() as conn:
            assert revision_of(conn) == MigrationContext.configure(conn).get_current_revision() == head_revision()
            conn.execute(text("DELETE FROM alembic_version"))
            assert revision_of(conn) is None is MigrationContext.configure(conn).get_current_revision()
            conn.rollback()
    finally:
        engine.dispose()


def test_the_migrations_build_the_schema_the_code_queries(db_url: str, tmp_path: Path) -> None:
    """Databases are built by the migrations alone, and queried through `schema.py`: an index, column or constraint
    declared in one and not the other (an index the code was written to use, never created) is a difference."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from casework.store import schema

    with Store.open(db_url, audit_key=tmp_path / "k") as store, store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        if store.is_sqlite:  # SQLite keeps a VARCHAR's declared length but never checks it (0003 widened one)
            differences = [d for d in differences if not (isinstance(d, list) and d[0][0] == "modify_type")]
    assert differences == []
