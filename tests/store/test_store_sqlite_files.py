"""SQLite files: named by SQLite's URI filenames (`sqlite:///file:path?uri=true`), one file however it is named, for
every command, with its blob folder, key and witness lines; read by the read-only commands from a folder they cannot
write (a backup on read-only media, the service user's folder) where SQLite can do that safely."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.audit.witness import database_tag
from casework.cli import app
from casework.store import StoreURLError
from casework.store.testing import cannot_write, run_casework

__all__ = ["cannot_write"]
from casework.store.url import parse_url, sqlite_file


def test_a_uri_filename_names_the_file_sqlite_opens(tmp_path: Path) -> None:
    plain = tmp_path / "a b" / "c.db"
    forms = [f"sqlite:///file:{tmp_path}/a%20b/c.db?uri=true", f"sqlite:///file://{tmp_path}/a b/c.db?uri=true",
             f"sqlite:///file://localhost{tmp_path}/a%20b/c.db?mode=ro&uri=true"]
    assert [sqlite_file(parse_url(url)) for url in forms] == [plain] * 3
    assert {database_tag(url) for url in forms} == {database_tag(f"sqlite:///{plain}")}


def test_a_question_mark_or_hash_encoded_twice_is_in_the_name_sqlite_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///file:a%253Fb%2523c.db?uri=true&mode=rwc"
    assert sqlite_file(parse_url(url)) == Path("a?b#c.db")
    assert CliRunner().invoke(app, ["demo", "--db", url]).exit_code == 0
    assert (tmp_path / "a?b#c.db").is_file() and not (tmp_path / "a").exists()


@pytest.mark.parametrize(("command", "url", "said"), [
    (["demo"], "sqlite:///file:c.db?uri=true&mode=rwc&immutable=1", "immutable=1"),
    (["reproject"], "sqlite:///file:c.db?mode=ro&uri=true", "mode=ro"),
    (["audit", "checkpoint"], "sqlite:///file:c.db?mode=ro&immutable=1&uri=true", "mode=ro and immutable=1"),
])
def test_a_command_that_writes_refuses_a_url_that_lets_nothing_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], url: str, said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    if command != ["demo"]:
        assert CliRunner().invoke(app, ["demo", "--db", "sqlite:///c.db"]).exit_code == 0
    before = sorted(p.name for p in tmp_path.iterdir())
    result = CliRunner().invoke(app, [*command, "--db", url])
    # SQLite refused the first write: 'the database file, or its folder ..., is not writable', and demo left an
    # empty c.db behind
    assert result.exit_code == 2, result.output
    assert result.output == f"error: the database URL says {said}, and this command writes: remove it from --db " \
                            "(the commands that only read open the database read-only themselves)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_every_command_takes_a_uri_filename_as_the_same_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a b").mkdir()
    uri, plain = "sqlite:///file:a%20b/c.db?uri=true&mode=rwc", f"sqlite:///{tmp_path / 'a b' / 'c.db'}"
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    assert CliRunner().invoke(app, ["demo", "--db", uri], env=env).exit_code == 0
    assert sorted(p.name for p in (tmp_path / "a b").iterdir()) == ["c.db", "c.db.blobs"]  # nothing in `file:a b/`
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a b", "k", "k.witness"]
    read_only = uri.replace("mode=rwc", "mode=ro")
    tasks = CliRunner().invoke(app, ["tasks", "--db", read_only, "--json", "--state", "completed"])
    # 9 of the walked claim, 6 of the claims the demo leaves open
    assert tasks.exit_code == 0 and tasks.output.count("\"case_id\"") == 15, tasks.output
    # The checkpoints the URI form sealed are this database's in the witness file, read through the plain path.
    with sqlite3.connect(tmp_path / "a b" / "c.db") as conn:
        conn.execute("DELETE FROM checkpoints WHERE id = (SELECT max(id) FROM checkpoints)")
    result = CliRunner().invoke(app, ["audit", "verify", "--db", plain], env=env)
    assert result.exit_code == 1 and "is in the witness file but not in the database" in result.output, result.output


@pytest.mark.parametrize(("url", "said"), [
    ("sqlite:///c.db?mode=ro", "sqlite:///path takes no ?options"),
    ("sqlite:///c.db?mode=ro&uri=true", "with uri=true the path must be a file: URI"),
    ("sqlite:///file:c.db?cache=shared&uri=true", "unsupported SQLite URI parameter cache='shared'"),
    ("sqlite:///file:c.db?mode=memory&uri=true", "unsupported SQLite URI parameter mode='memory'"),
    ("sqlite:///file::memory:?uri=true", "SQLite needs a file path"),
    ("sqlite:///file://db.example/c.db?uri=true", "a SQLite file URI names a file on this machine, not on 'db.ex"),
    ("sqlite:///file:a%3Fb.db?uri=true", "a SQLite URI filename's path cannot hold '?' or '#'"),
    ("sqlite:///file:c.db%23x?uri=true&mode=ro", "a SQLite URI filename's path cannot hold '?' or '#'"),
    ("sqlite:///file:c%2500d.db?uri=true", "a SQLite path cannot hold a NUL character (%00)"),
    ("sqlite:///c%00d.db", "a SQLite path cannot hold a NUL character (%00)"),
])
def test_sqlite_url_options_that_would_be_dropped_or_would_undo_a_guarantee_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreURLError, match=re.escape(said)):
        parse_url(url)
    result = CliRunner().invoke(app, ["demo", "--db", url])
    assert result.exit_code == 2 and result.output.startswith(f"error: {said}"), result.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def backup(tmp_path: Path) -> Iterator[Path]:
    """A casework database in WAL mode, closed (no -wal or -shm file), in a folder nobody but root may write."""
    folder = tmp_path / "backup"
    folder.mkdir()
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    assert run_casework("demo", "--db", f"sqlite:///{folder / 'c.db'}", env=env).returncode == 0
    folder.chmod(0o555)
    yield folder / "c.db"
    folder.chmod(0o755)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _copied_while_open(db: Path, *suffixes: str) -> None:
    """Leave `db` as a copy taken while a service held it open and had just committed (to its -wal file) would be:
    the database file and the given companion files."""
    db.parent.chmod(0o755)
    conn = sqlite3.connect(db)
    # one task of the walked claim (the demo's open claims are claim-2001...)
    conn.execute("UPDATE tasks SET owner = 'zed' WHERE case_id NOT LIKE 'claim-%' "
                 "AND item_id = (SELECT min(item_id) FROM tasks)")
    conn.commit()
    copies = {f"{db}{suffix}": Path(f"{db}{suffix}").read_bytes() for suffix in ("", *suffixes)}
    conn.close()  # the last connection: it moves the commit into the file and deletes the -wal and -shm files
    for name, data in copies.items():
        Path(name).write_bytes(data)
    assert Path(f"{db}-wal").stat().st_size > 0
    db.parent.chmod(0o555)


def test_a_closed_wal_database_in_a_folder_that_cannot_be_written_is_refused_saying_why(
    backup: Path, cannot_write: tuple[str, ...]
) -> None:
    before = _files(backup.parent)
    for command in (["tasks"], ["audit", "verify"], ["export", "--format", "csv", "-o", "-"]):
        result = run_casework(*command, "--db", f"sqlite:///{backup}", prefix=cannot_write)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"error: cannot read {backup}: it is in WAL mode and SQLite needs to create its -shm file in "
            f"{backup.parent}, which cannot be written from here (its permissions, or a read-only mount); reading it "
            "as immutable instead could give wrong data, since the database can still be changed (by the folder's "
            "owner, or through another mount): run the command as a user who can write the folder, or read a copy "
            "of the database\n")
    assert _files(backup.parent) == before


def test_a_wal_database_whose_wal_and_shm_files_are_there_is_read_with_the_wal_commits(
    backup: Path, cannot_write: tuple[str, ...]
) -> None:
    _copied_while_open(backup, "-wal", "-shm")
    result = run_casework("tasks", "--db", f"sqlite:///{backup}", "--owner", "zed", "--state", "completed", "--json",
                       prefix=cannot_write)
    assert result.returncode == 0 and result.stdout.count('"owner": "zed"') == 1, result.stderr


def test_commits_only_in_a_wal_file_without_its_shm_file_are_not_read_past(
    backup: Path, cannot_write: tuple[str, ...]
) -> None:
    _copied_while_open(backup, "-wal")  # without its -shm file
    result = run_casework("tasks", "--db", f"sqlite:///{backup}", prefix=cannot_write)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot read {backup}: its -wal file holds commits that are not in the "
                                    "database file yet"), result.stderr


MOUNTED = """set -e
mount -t tmpfs casework-test "$1"; cp -a "$2"/. "$1"/; mount -o remount,ro "$1"
"$3" -m casework audit verify --db "sqlite:///$1/c.db"
umount "$1"; mount --bind -o ro "$2" "$1"
"$3" -m casework audit verify --db "sqlite:///$1/c.db" || echo "exit $?"
"""


def test_on_a_read_only_file_system_the_database_is_read_as_immutable_and_the_output_says_so(
    tmp_path: Path, backup: Path
) -> None:
    """A file system that is read-only itself (its superblock: read-only media, an image) cannot change while it is
    read; a read-only bind mount of a folder that a service still writes through another mount can."""
    if os.geteuid() != 0 or not shutil.which("unshare") or subprocess.run(
        ["unshare", "-m", "true"], check=False).returncode != 0:
        pytest.skip("needs root and mount namespaces (unshare -m) to mount a read-only file system")
    (tmp_path / "mnt").mkdir()
    result = subprocess.run(["unshare", "-m", "sh", "-c", MOUNTED, "sh", str(tmp_path / "mnt"), str(backup.parent),
                             sys.executable], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    mounted = tmp_path / "mnt" / "c.db"
    assert result.stdout.splitlines() == ["audit: 5 cases, 141 events, ok", "exit 2"], result.stderr
    assert result.stderr.splitlines()[0] == (
        f"note: {mounted} was read as immutable: its folder cannot be written and SQLite cannot create its -shm file "
        "there, and nothing can change it (a read-only file system)")
    assert result.stderr.splitlines()[-1].startswith(f"error: cannot read {mounted}: it is in WAL mode")


def test_a_read_that_relies_on_an_immutable_url_says_so(backup: Path) -> None:
    result = CliRunner().invoke(app, ["tasks", "--db", f"sqlite:///file:{backup}?immutable=1&uri=true", "--json"])
    assert result.exit_code == 0, result.output
    assert f"note: {backup} was read as immutable, as the URL says: a change made meanwhile is not seen" in (
        result.output)


@pytest.mark.parametrize("flag", ["uri=TRUE", "uri=True", "uri=true&uri=true"])
def test_the_uri_flag_spelled_as_the_driver_reads_it_names_the_same_file(tmp_path: Path, flag: str) -> None:
    parsed = parse_url(f"sqlite:///file:{tmp_path / 'c.db'}?{flag}&mode=ro")
    assert parsed.query == {"uri": "true", "mode": "ro"} and sqlite_file(parsed) == tmp_path / "c.db"
