"""`casework case ...` as its tests drive it: a store holding the demo's claim model, and the checks every command's
tests make (a change made and what it wrote, a change refused with nothing written, the audit trail verified)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import CaseState
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()
Stored = tuple[str, dict[str, str]]  # (database URL, environment of the command line)


def claim_store(db_url: str, tmp_path: Path, **env: str) -> Stored:
    """A store with the demo's insurance claim model deployed and no case; its audit key and blob folder in
    `tmp_path`, tables 300 columns wide, and `env` on top."""
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as service:
        service.deploy(demo_model_xml("insurance_claim.cmmn"))
    return db_url, {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs"),
                    "COLUMNS": "300", **env}


def _url(stored: Stored | str) -> str:
    return stored if isinstance(stored, str) else stored[0]


def cw(stored: Stored, *args: str) -> Any:
    db_url, env = stored
    return runner.invoke(app, [*args, "--db", db_url], env=env)


def start(stored: Stored, *args: str) -> str:
    """A new claim's id (`case start insuranceClaim --as ann ARGS`)."""
    started = cw(stored, "case", "start", "insuranceClaim", "--as", "ann", *args)
    assert started.exit_code == 0, started.output
    return str(started.stdout.strip())


def state(stored: Stored | str, case_id: str) -> CaseState:
    with Store.open(_url(stored)) as store, CaseService(store) as service:
        return service.state(case_id)


def item(case: CaseState, name: str) -> Any:
    (found,) = [i for i in case.items.values() if i.name == name]
    return found


def events(stored: Stored | str, case_id: str) -> list[Any]:
    with Store.open(_url(stored)) as store:
        return store.events(case_id)


def done(stored: Stored, case_id: str, *args: str) -> list[Any]:
    """Runs `case ARGS`, a change that must be made; returns the events it wrote."""
    before = len(events(stored, case_id))
    result = cw(stored, "case", *args)
    assert result.exit_code == 0, result.output
    # "completed 'Register claim' on case X by ann", or for the whole case "suspended case X by ann"
    assert f" case {case_id} by " in result.stdout
    return events(stored, case_id)[before:]


def refused(stored: Stored, case_id: str, *args: str, bad_input: bool = False) -> str:
    """Runs `case ARGS`, a change that must be refused: exit 2, nothing on standard output, one `error: ...` line
    (`error: nothing recorded: <the engine's reason>` unless it is bad input the command line catches), no event
    written. Returns the line."""
    before = events(stored, case_id)
    result = cw(stored, "case", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and line.startswith("error: nothing recorded: ") != bad_input, line
    assert events(stored, case_id) == before
    return str(line)


def verified(stored: Stored) -> None:
    result = cw(stored, "audit", "verify")
    assert result.exit_code == 0 and result.stdout.startswith("audit: "), result.output
