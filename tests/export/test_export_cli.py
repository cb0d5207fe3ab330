"""`casework export -o`: where the file goes (through a link, to a pipe, to standard output) and bad paths."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

import casework
from casework.cli import app
from casework.export.importlog import import_log
from casework.store import Store
from casework.store.testing import cannot_write, fill_up, run_casework, small_disk

__all__ = ["cannot_write", "small_disk"]

NS = "{http://www.xes-standard.org/}"
LOG = "case_id,activity,timestamp,resource\nA,Register,2020-01-01T10:00:00,ann\nA,Close,2020-01-01T11:00:00,\n"


def _fill(url: str, tmp_path: Path) -> str:
    log = tmp_path / "small.csv"
    log.write_text(LOG)
    with Store.open(url, audit_key=tmp_path / "k") as store:
        import_log(store, log, "intake")
    return url


@pytest.fixture
def filled(db_url: str, tmp_path: Path) -> str:
    return _fill(db_url, tmp_path)


def _export(db: str, output: str, fmt: str = "csv") -> tuple[int, str, str]:
    res = CliRunner().invoke(app, ["export", "--db", db, "--format", fmt, "-o", output])
    return res.exit_code, res.stdout, res.stderr


def test_a_symbolic_link_is_followed_not_replaced(filled: str, tmp_path: Path) -> None:
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target.name)
    code, out, _ = _export(filled, str(link))
    assert code == 0 and out.startswith("export: 1 cases, 2 events ->")
    assert link.is_symlink() and os.readlink(link) == "target.csv"
    assert target.read_text().startswith("case_id,activity,timestamp,resource\n")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")) == []


def test_a_link_planted_beside_the_target_is_not_written_through(filled: str, tmp_path: Path) -> None:
    # In a folder others can write, the file written before it is moved into place had a fixed name: a link planted
    # there had the export written into the file it named (here the user's own notes), and was moved over the target.
    victim = tmp_path / "home" / "notes.txt"
    victim.parent.mkdir()
    victim.write_text("mine\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "log.csv.partial").symlink_to(victim)
    code, out, _ = _export(filled, str(shared / "log.csv"))
    assert code == 0 and out.startswith("export: 1 cases, 2 events ->")
    assert victim.read_text() == "mine\n"
    assert not (shared / "log.csv").is_symlink()
    assert (shared / "log.csv").read_text().startswith("case_id,activity,timestamp,resource\n")
    assert sorted(p.name for p in shared.iterdir()) == ["log.csv", "log.csv.partial"]


def test_a_pipe_is_written_to_not_replaced(filled: str, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so that opening to write does not block
    try:
        code, out, err = _export(filled, str(fifo))
        data = os.read(reader, 1 << 16).decode()
    finally:
        os.close(reader)
    assert code == 0 and fifo.is_fifo()
    assert data.startswith("case_id,activity,timestamp,resource\n") and len(data.splitlines()) == 3
    assert out == "" and err.startswith("export: 1 cases, 2 events ->")  # a stream gets the data alone


def test_dash_writes_standard_output(filled: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where a file named "-" would have been written
    code, out, err = _export(filled, "-", "xes")
    assert code == 0 and err.strip() == "export: 1 cases, 2 events -> standard output"
    ET.fromstring(out)
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(("output", "message"), [
    ("nodir/out.csv", "cannot write {tmp}/nodir/out.csv: no directory {tmp}/nodir"),
    (".", "{tmp} is a directory: give the file to write"),
])
def test_a_path_that_cannot_be_written_is_a_clear_error(
    filled: str, tmp_path: Path, output: str, message: str
) -> None:
    target = str(tmp_path / output).removesuffix("/.")
    code, out, err = _export(filled, target)
    assert code == 2 and err.strip() == "error: " + message.format(tmp=tmp_path)
    assert "Traceback" not in out + err and not (tmp_path / "nodir").exists()


def test_the_database_itself_is_not_replaced_by_its_export(sqlite_url: str, tmp_path: Path) -> None:
    # `--db sqlite:///cases.db -o cases.db` replaced the store, every case, with a CSV file
    filled = _fill(sqlite_url, tmp_path)
    database = Path(filled.removeprefix("sqlite:///"))
    before = database.read_bytes()
    for output in (database, tmp_path / "link.db"):
        if output.name == "link.db":
            output.symlink_to(database)
        code, out, err = _export(filled, str(output))
        assert code == 2 and out == ""
        assert err == f"error: cannot write {output}: it is the database being exported; give -o another file\n"
    assert database.read_bytes() == before
    assert _export(filled, str(tmp_path / "out.csv"))[0] == 0


def test_a_log_without_resources_is_exported_without_them(filled: str, tmp_path: Path) -> None:
    code, _, _ = _export(filled, str(tmp_path / "out.csv"))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [(r["activity"], r["resource"]) for r in rows] == [("Register", "ann"), ("Close", "")]
    code, _, _ = _export(filled, str(tmp_path / "out.xes"), "xes")
    assert code == 0
    events = ET.parse(tmp_path / "out.xes").getroot().iter(f"{NS}event")
    resources = [{a.get("key"): a.get("value") for a in ev}.get("org:resource") for ev in events]
    assert resources == ["ann", None]
    code, _, _ = _export(filled, str(tmp_path / "out.json"), "ocel")
    assert code == 0
    ocel = json.loads((tmp_path / "out.json").read_text())
    attributes = [{a["name"]: a["value"] for a in ev["attributes"]} for ev in ocel["events"]]
    assert [a.get("resource") for a in attributes] == ["ann", None]


def test_a_reader_that_stops_reading_the_pipe_is_not_an_error(sqlite_url: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    import casework

    log = tmp_path / "big.csv"  # far more than a pipe holds (64 KB), so the export is still writing
    log.write_text("case_id,activity,timestamp\n" + "".join(
        f"case{n},Activity {n % 7},2020-01-01T10:00:00\n" for n in range(20_000)))
    with Store.open(sqlite_url, audit_key=tmp_path / "k") as store:
        import_log(store, log, "intake")
    env = {**os.environ, "PYTHONPATH": str(Path(casework.__file__).parents[1]),
           "CASEWORK_AUDIT_KEY": str(tmp_path / "k")}
    script = "from casework.cli import main; main()"
    for args in (["export", "--format", "csv", "-o", "-"], ["export", "--format", "xes", "-o", "/dev/stdout"]):
        with subprocess.Popen([sys.executable, "-c", script, *args, "--db", sqlite_url], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:  # `casework export | head -1`
            assert proc.stdout is not None and proc.stderr is not None
            proc.stdout.readline()
            proc.stdout.close()
            err = proc.stderr.read().decode()
            code = proc.wait(timeout=120)
        assert err == "" and code == 141, (code, err)  # before: "error: cannot write standard output: Broken pipe"


def test_the_new_file_keeps_the_permissions_of_the_one_it_replaces(filled: str, tmp_path: Path) -> None:
    target = tmp_path / "log.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    assert _export(filled, str(target))[0] == 0
    assert target.read_text().startswith("case_id,") and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_read_only_file_is_not_replaced(filled: str, tmp_path: Path, cannot_write: tuple[str, ...]) -> None:
    target = tmp_path / "log.csv"
    target.write_text("old\n")
    target.chmod(0o444)
    result = run_casework("export", "--db", filled, "--format", "csv", "-o", str(target), prefix=cannot_write,
                          env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert result.returncode == 2 and result.stderr == f"error: cannot write {target}: it is read-only\n"
    assert target.read_text() == "old\n" and stat.S_IMODE(target.stat().st_mode) == 0o444


def test_an_export_stopped_by_sigterm_leaves_the_old_file_and_no_partial_one(sqlite_url: str, tmp_path: Path) -> None:
    filled = _fill(sqlite_url, tmp_path)  # what a signal does to the command does not depend on the database
    target = tmp_path / "log.csv"
    target.write_text("old\n")
    # The command is stopped in the middle of writing: its export sends the process a SIGTERM after the first line.
    script = f"""
import os, signal, sys
import casework.export as export
from casework.cli import main
def stopped(store, fmt, out):
    out.write("case_id,activity,timestamp,resource\\n")
    os.kill(os.getpid(), signal.SIGTERM)
    raise AssertionError("the signal did not stop the export")
export.export_to = stopped
sys.argv = ["casework", "export", "--db", {filled!r}, "--format", "csv", "-o", {str(target)!r}]
main()
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    assert result.returncode != 0 and "AssertionError" not in result.stderr, result.stderr
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir() if "log" in p.name) == [
        "log.csv"]


def test_a_folder_that_cannot_be_written_is_named_before_the_database_is_opened(
    filled: str, tmp_path: Path, cannot_write: tuple[str, ...]
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "log.csv"
    target.write_text("old\n")  # a file this user may write, as `>` would
    folder.chmod(0o555)
    try:
        result = run_casework("export", "--db", filled, "--format", "csv", "-o", str(target), prefix=cannot_write,
                              env={"CASEWORK_AUDIT_KEY": str(tmp_path / "k")})
    finally:
        folder.chmod(0o755)
    # it was 'cannot write .../log.csv: Permission denied', about a file whose permissions allow it
    assert result.returncode == 2 and result.stderr == (
        f"error: cannot write {target}: its folder {folder} cannot be written here (the export is written beside "
        "the file and then moved over it)\n")
    assert target.read_text() == "old\n" and sorted(p.name for p in folder.iterdir()) == ["log.csv"]


def test_an_export_to_standard_output_cut_short_by_a_full_disk_is_an_error(tmp_path: Path, small_disk: Path) -> None:
    # With PYTHONUNBUFFERED (set in many container images) standard output is the raw file: the write of the last
    # row, cut short by the full disk, said so only by its count, and the export ended with exit status 0.
    first = "".join(f"A,{'x' * 32},2025-01-01T{i // 60:02d}:{i % 60:02d}:00,\n" for i in range(654))
    log = tmp_path / "long.csv"
    log.write_text("case_id,activity,timestamp,resource\n" + first + f"A,{'y' * 400},2025-01-02T00:00:00,\n")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    with Store.open(db, audit_key=tmp_path / "k") as store:
        import_log(store, log, "intake")
    # Header, 654 rows of 100 bytes and one of 468: the last row crosses the 64 KiB the disk has room for.
    assert _export_size(db, tmp_path) == 36 + 654 * 100 + 468
    filler = fill_up(small_disk)
    os.truncate(filler, filler.stat().st_size - 64 * 1024)
    out_path = small_disk / "out.csv"
    for unbuffered in ("1", ""):
        with out_path.open("wb") as out:
            done = subprocess.run([sys.executable, "-m", "casework", "export", "--format", "csv", "-o", "-", "--db",
                                   db], stdout=out, stderr=subprocess.PIPE, text=True, timeout=300,
                                  env={**os.environ, "PYTHONUNBUFFERED": unbuffered,
                                       "PYTHONPATH": str(Path(casework.__file__).parents[1])})
        assert done.returncode == 2, (unbuffered, done.stderr)
        assert done.stderr == "error: cannot write standard output: No space left on device\n"
        out_path.unlink()


def _export_size(db: str, tmp_path: Path) -> int:
    code, _, _ = _export(db, str(tmp_path / "whole.csv"))
    assert code == 0
    return (tmp_path / "whole.csv").stat().st_size
