"""Bad input to any command: exit status 2, one line `error: ...` on standard error, no traceback, nothing changed.

Exit status 1 is kept for a command that ran and answered "no" (validate found an invalid model, a conformance
scenario failed, audit verify found a broken link); those have their own tests beside the commands."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.store import Store
from casework.store.testing import db_url, pg_url

__all__ = ["db_url", "pg_url"]

runner = CliRunner()
BAD_LOG = "case_id,activity,timestamp\nA,Register,2020-01-01T10:00:00\nA,Close,yesterday\n"

# (id, arguments, what the error line says). {db} is a stored database with the demo's case {case}, {dir} a folder
# with bad.csv (a log with a bad timestamp), bad.toml (not TOML), empty/ (a folder) and garbage.db (not a database).
CASES = [
    ("validate-missing-file", "validate {dir}/missing.cmmn", "cannot read"),
    ("conformance-missing-path", "conformance {dir}/missing.json", "no such file or folder"),
    ("conformance-no-scenarios", "conformance {dir}/empty", "no scenario files"),
    ("unknown-command", "nosuchcommand", "No such command"),
    ("unknown-option", "tasks --no-such-option", "No such option"),
    ("tasks-unknown-state", "tasks --db {db} --state bogus", "unknown state 'bogus'"),
    ("tasks-bad-time", "tasks --db {db} --due-before soon", "not an ISO-8601"),
    ("tasks-time-after-utc", "tasks --db {db} --due-before 9999-12-31T23:59:59-12:00",
     "outside the years 1 to 9999 in UTC"),
    ("tasks-bad-limit", "tasks --db {db} --limit 0", "--limit"),
    ("tasks-missing-db", "tasks --db sqlite:///{dir}/none.db", "no database at"),
    ("tasks-not-a-database", "tasks --db sqlite:///{dir}/garbage.db", "file is not a database"),
    ("tasks-bad-url", "tasks --db nonsense://x", "unsupported database"),
    ("tasks-bad-port", "tasks --db postgresql://u@h:notaport/x", "not a database URL"),
    ("tasks-no-server", "tasks --db postgresql://nobody@127.0.0.1:1/x", "cannot open the database"),
    ("export-bad-format", "export --format pdf -o {dir}/out --db {db}", "--format must be one of"),
    ("export-missing-folder", "export --format xes -o {dir}/nowhere/out.xes --db {db}", "no directory"),
    ("import-log-missing-file", "import-log {dir}/missing.csv --definition k --db {db}", "no such file"),
    ("import-log-folder", "import-log {dir}/empty --definition k --db {db}", "a folder, not a log file"),
    ("import-log-bad-log", "import-log {dir}/bad.csv --definition k --db {db}", "line 3: timestamp 'yesterday'"),
    ("import-log-no-definition", "import-log {dir}/bad.csv --db {db}", "Missing option '--definition'"),
    ("reproject-unknown-case", "reproject --db {db} --case nope", "no case nope"),
    ("deploy-missing-file", "deploy {dir}/missing.cmmn --db {db}", "cannot read"),
    ("deploy-folder", "deploy {dir}/empty --db {db}", "cannot read"),
    ("definitions-missing-db", "definitions --db sqlite:///{dir}/none.db", "no database at"),
    ("cases-unknown-state", "cases --db {db} --state bogus", "unknown state 'bogus'"),
    ("cases-version-alone", "cases --db {db} --version 2", "give --definition too"),
    ("cases-bad-limit", "cases --db {db} --limit 0", "--limit"),
    ("migrate-unknown-key", "migrate nosuch --to 1 --all-open --reason r --as ann --db {db}", "no definition 'nosuch'"),
    ("migrate-unknown-version", "migrate insuranceClaim --to 9 --all-open --reason r --as ann --db {db}",
     "no definition 'insuranceClaim' version 9"),
    ("migrate-unknown-case", "migrate insuranceClaim --to 1 --case {case} --case nope --reason r --as ann --db {db}",
     "no case nope"),
    ("migrate-no-cases", "migrate insuranceClaim --to 1 --reason r --as ann --db {db}", "or --all-open"),
    ("migrate-no-reason", "migrate insuranceClaim --to 1 --all-open --as ann --db {db}", "Missing option '--reason'"),
    ("migrate-missing-db", "migrate k --to 1 --all-open --reason r --as a --db sqlite:///{dir}/none.db",
     "no database at"),
    ("case-show-unknown-case", "case show nope --db {db}", "no case nope"),
    ("case-history-unknown-case", "case history nope --db {db}", "no case nope"),
    ("case-explain-unknown-case", "case explain nope Task --db {db}", "no case nope"),
    ("case-complete-unknown-case", "case complete nope Task --as ann --db {db}", "no case nope"),
    ("case-complete-unknown-item", "case complete {case} NoSuchTask --as ann --db {db}", "nothing recorded: "),
    ("case-start-item-unknown-item", "case start-item {case} NoSuchTask --as ann --db {db}", "nothing recorded: "),
    ("case-start-unknown-definition", "case start nosuch --as ann --db {db}", "no definition 'nosuch'"),
    ("case-start-data-not-json", "case start insuranceClaim --data nope --as ann --db {db}", "--data is not JSON"),
    ("case-start-data-not-object", "case start insuranceClaim --data [1] --as ann --db {db}", "must be a JSON object"),
    ("case-start-data-too-deep", "case start insuranceClaim --data-file {dir}/deep.json --as ann --db {db}",
     "nests lists and objects too deeply"),
    ("case-start-data-key-twice", "case start insuranceClaim --data-file {dir}/twice.json --as ann --db {db}",
     "gives 'amount' more than once in one object"),
    ("case-start-data-twice", "case start insuranceClaim --data 1 --data-file {dir}/bad.csv --as ann --db {db}",
     "give the data once"),
    ("case-start-missing-data-file", "case start insuranceClaim --data-file {dir}/missing.json --as ann --db {db}",
     "cannot read"),
    ("case-start-no-actor", "case start insuranceClaim --db {db}", "Missing option '--as'"),
    ("case-start-missing-db", "case start k --as ann --db sqlite:///{dir}/none.db", "no database at"),
    ("case-complete-data-not-object", "case complete {case} Task --data 3 --as ann --db {db}",
     "must be a JSON object"),
    ("case-add-task-no-reason", "case add-task {case} Task --as ann --db {db}", "Missing option '--reason'"),
    ("case-add-task-unknown-case", "case add-task nope Task --as ann --reason r --db {db}", "no case nope"),
    ("case-skip-no-reason", "case skip {case} Task --as ann --db {db}", "Missing option '--reason'"),
    ("case-remove-unknown-item", "case remove {case} NoSuchTask --as ann --reason r --db {db}", "nothing recorded: "),
    ("case-reassign-no-to", "case reassign {case} Task --as ann --db {db}", "give the new owner (--to USER)"),
    ("case-suspend-no-reason", "case suspend {case} --as ann --db {db}", "Missing option '--reason'"),
    ("case-close-unknown-case", "case close nope --as ann --reason r --db {db}", "no case nope"),
    ("case-disable-unknown-item", "case disable {case} NoSuchTask --as ann --reason r --db {db}",
     "nothing recorded: "),
    ("case-attach-missing-file", "case attach {case} {dir}/missing.pdf --as ann --db {db}", "cannot read"),
    ("case-attach-folder", "case attach {case} {dir}/empty --as ann --db {db}", "is a folder, not a file"),
    ("case-attach-unknown-case", "case attach nope {dir}/bad.csv --as ann --db {db}", "no case nope"),
    ("case-documents-unknown-case", "case documents nope --db {db}", "no case nope"),
    ("case-document-unknown-name", "case document {case} nothing.pdf -o {dir}/out.pdf --db {db}",
     "no document 'nothing.pdf'"),
    ("bench-unknown-suite", "bench nosuch", "unknown suite(s) nosuch"),
    ("demo-bad-url", "demo --db nonsense://x", "unsupported database"),
    ("evaluate-missing-log", "suggest evaluate {dir}/missing.csv", "does not exist"),
    ("evaluate-bad-log", "suggest evaluate {dir}/bad.csv", "timestamp 'yesterday'"),
    ("evaluate-bad-variant", "suggest evaluate {dir}/bad.csv --variant zz", "variant must be one of"),
    ("report-no-logs", "suggest report --logs-dir {dir}/empty", "no log to evaluate"),
    ("report-missing-folder", "suggest report --logs-dir {dir}/nowhere", "no folder"),
    ("train-bad-log", "suggest train {dir}/bad.csv --out {dir}/m.json.gz", "timestamp 'yesterday'"),
    ("train-missing-folder", "suggest train {dir}/bad.csv --out {dir}/nowhere/m.json.gz", "no such folder"),
    ("case-unknown-case", "suggest case nope --db {db} --case-type insurance_claim", "no case nope"),
    ("case-unknown-case-type", "suggest case {case} --db {db} --case-type nonsense", "no bundled case type"),
    ("case-bad-case-type-file", "suggest case {case} --db {db} --case-type {dir}/bad.toml", "not valid TOML"),
    ("case-missing-case-type-file", "suggest case {case} --db {db} --case-type {dir}/missing.toml", "cannot read"),
    ("case-bad-model", "suggest case {case} --db {db} --model {dir}/bad.csv", "cannot read a model file"),
    ("case-model-too-deep", "suggest case {case} --db {db} --model {dir}/deep.json.gz",
     "cannot read a model file: its JSON nests too deeply"),
    ("case-neither", "suggest case {case} --db {db}", "give --model, --case-type or both"),
    ("case-type-of-another-process", "suggest case {case} --db {db} --case-type {dir}/other.toml",
     "describes definition 'buildingPermit'"),
    ("feedback-bad-time", "suggest feedback --db {db} --since yesterday", "not an ISO-8601"),
    ("feedback-time-before-utc", "suggest feedback --db {db} --since 0001-01-01T00:00:00+14:00",
     "outside the years 1 to 9999 in UTC"),
    ("flags-bad-severity", "suggest flags --db {db} --severity loud", "choose one of"),
    ("refresh-unknown-case-type", "suggest refresh --db {db} --case-type nonsense", "no bundled case type"),
    ("refresh-bad-case-type-file", "suggest refresh --db {db} --case-type {dir}/bad.toml", "not valid TOML"),
    ("refresh-missing-db", "suggest refresh --db sqlite:///{dir}/none.db --case-type insurance_claim",
     "no database at"),
    ("verify-missing-db", "audit verify --db sqlite:///{dir}/none.db", "no database at"),
    ("verify-missing-key", "audit verify --db {db} --public-key {dir}/missing.key", "cannot read the key file"),
    ("checkpoint-missing-db", "audit checkpoint --db sqlite:///{dir}/none.db", "no database at"),
    ("state-at-unknown-case", "audit state-at nope --db {db}", "no case nope"),
    ("state-at-no-such-event", "audit state-at {case} --db {db} --seq 9999", "there is no event 9999"),
    ("state-at-before-the-case", "audit state-at {case} --db {db} --at 1990-01-01", "did not exist yet"),
    ("state-at-bad-time", "audit state-at {case} --db {db} --at whenever", "not an ISO-8601"),
    ("state-at-time-before-utc", "audit state-at {case} --db {db} --at 0001-01-01T00:00:00+14:00",
     "outside the years 1 to 9999 in UTC"),
    ("case-set-due-after-utc", "case set-due {case} --due 9999-12-31T23:59-05:00 --as ann --reason r --db {db}",
     "outside the years 1 to 9999 in UTC"),
]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A folder with a database holding the demo's case, and bad inputs beside it."""
    folder = tmp_path_factory.mktemp("bad-input")
    db = f"sqlite:///{folder / 'casework.db'}"
    env = {"CASEWORK_AUDIT_KEY": str(folder / "audit.key")}
    made = runner.invoke(app, ["demo", "--db", db], env=env)
    assert made.exit_code == 0, made.output
    with Store.open(db) as store:
        case_id = store.case_summaries()[0][0]
    (folder / "bad.csv").write_text(BAD_LOG)
    (folder / "bad.toml").write_text("x = [\n")
    (folder / "other.toml").write_text('[case_type]\nkey = "permits"\ndefinition = "buildingPermit"\n'
                                       'label = "Building permit"\n')
    (folder / "empty").mkdir()
    # nested past Python's JSON parser (about a thousand levels), which gives up with a RecursionError
    deep = '{"d": ' + "[" * 100_000 + "]" * 100_000 + "}"
    (folder / "deep.json").write_text(deep)
    (folder / "twice.json").write_text('{"amount": 17500, "approved": true, "amount": 1750}')
    (folder / "deep.json.gz").write_bytes(gzip.compress(deep.encode()))
    (folder / "garbage.db").write_bytes(gzip.compress(b"not a database"))
    return folder, db, case_id


def _files(folder: Path) -> dict[str, str]:
    # SQLite's -shm file is its shared-memory index, rewritten by any reader: not the database's content.
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*")) if not p.name.endswith("-shm")}


@pytest.mark.parametrize(("args", "said"), [pytest.param(a, s, id=i) for i, a, s in CASES])
def test_bad_input_exits_2_with_one_error_line_and_changes_nothing(
    stored: tuple[Path, str, str], args: str, said: str
) -> None:
    folder, db, case_id = stored
    before = _files(folder)
    argv = [word.format(db=db, dir=folder, case=case_id) for word in args.split()]
    result = runner.invoke(app, argv, env={"CASEWORK_AUDIT_KEY": str(folder / "audit.key"),
                                           "CASEWORK_BLOBS": str(folder / "casework.db.blobs")})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said in lines[0], result.stderr
    assert result.stdout == ""
    assert _files(folder) == before


@pytest.mark.parametrize(("args", "said"), [
    ("audit state-at nope --db {db}", "no case nope"),
    ("reproject --db {db} --case nope", "no case nope"),
    ("migrate insuranceClaim --to 1 --case nope --reason r --as ann --db {db}", "no case nope"),
    ("migrate insuranceClaim --to 2 --all-open --reason r --as ann --db {db}", "version 2"),
    ("deploy {dir}/bad.csv --db {db}", "1 of 1 files failed validation; nothing deployed"),
    ("suggest case nope --db {db} --case-type insurance_claim", "no case nope"),
    ("case complete nope Task --as ann --db {db}", "no case nope"),
    ("case start nosuch --as ann --db {db}", "no definition 'nosuch'"),
    ("import-log {dir}/bad.csv --definition k --db {db}", "line 3: timestamp 'yesterday'"),
])
def test_unknown_names_are_bad_input_on_both_databases(db_url: str, tmp_path: Path, args: str, said: str) -> None:
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    made = runner.invoke(app, ["demo", "--db", db_url], env=env)
    assert made.exit_code == 0, made.output
    (tmp_path / "bad.csv").write_text(BAD_LOG)
    with Store.open(db_url) as store:
        before = store.counts()
    result = runner.invoke(app, [w.format(db=db_url, dir=tmp_path) for w in args.split()], env=env)
    assert result.exit_code == 2 and result.stderr.splitlines() == [result.stderr.strip()], result.output
    assert result.stderr.startswith("error: ") and said in result.stderr
    with Store.open(db_url) as store:
        assert store.counts() == before
