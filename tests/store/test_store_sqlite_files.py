"""SQLite databases named by SQLite's URI filenames (`sqlite:///file:path?uri=true`): one file, however it is named,
for every command, its blob folder, key and witness lines."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.audit.witness import database_tag
from casework.cli import app
from casework.store import StoreURLError
from casework.store.url import parse_url, sqlite_file


def test_a_uri_filename_names_the_file_sqlite_opens(tmp_path: Path) -> None:
    plain = tmp_path / "a b" / "c.db"
    forms = [f"sqlite:///file:{tmp_path}/a%20b/c.db?uri=true", f"sqlite:///file://{tmp_path}/a b/c.db?uri=true",
             f"sqlite:///file://localhost{tmp_path}/a%20b/c.db?mode=ro&uri=true"]
    assert [sqlite_file(parse_url(url)) for url in forms] == [plain] * 3
    assert {database_tag(url) for url in forms} == {database_tag(f"sqlite:///{plain}")}


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
    assert tasks.exit_code == 0 and tasks.output.count("\"case_id\"") == 9, tasks.output
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
