"""`casework suggest flags` says, per finding, whether its case changed since it was judged: commands run without
decision support watching (`casework case ...`, `casework migrate`) change a case without judging it again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from findings_text import finding_blocks
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()
WIDE = {"COLUMNS": "300"}
REFRESH = "run `casework suggest refresh --case-type insurance_claim` to judge them again"


@pytest.fixture
def claims(db_url: str, tmp_path: Path) -> tuple[str, dict[str, str], list[str]]:
    """(database URL, environment, two registered claims of 60,000: an expert opinion is advisable), judged."""
    env = {**WIDE, "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"), "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    # On the clock `suggest refresh` reads: an SLA breached long ago would give findings that change by the second.
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        ids = [svc.start_case("insuranceClaim", {"amount": 60000}, actor="ann").case_id for _ in range(2)]
        for case_id in ids:
            svc.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann"))
    assert _cw(env, "suggest", "refresh", "--db", db_url, "--case-type", "insurance_claim").exit_code == 0
    return db_url, env, ids


def _cw(env: dict[str, str], *args: str) -> Any:
    return runner.invoke(app, list(args), env=env)


def _flags(url: str, env: dict[str, str]) -> list[dict[str, Any]]:
    listed = _cw(env, "suggest", "flags", "--db", url, "--json")
    assert listed.exit_code == 0, listed.output
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    return rows


def _version(url: str, case_id: str) -> int:
    with Store.open(url) as store:
        row = store.case(case_id)
        assert row is not None
        return row.version


def test_a_finding_whose_case_changed_since_it_was_judged_says_so_until_the_next_refresh(
    claims: tuple[str, dict[str, str], list[str]], tmp_path: Path,
) -> None:
    url, env, (changed, noted) = claims
    judged = _version(url, changed)
    rows = _flags(url, env)
    assert rows and all(r["current"] and r["judged_version"] == r["case_version"] for r in rows)
    table = _cw(env, "suggest", "flags", "--db", url)
    assert table.stdout.splitlines()[-1] == f"all {len(rows)} findings were judged on their case as it is now"

    # Ordinary commands: the cases change, nobody judges them again.
    done = _cw(env, "case", "complete", changed, "Assess damage", "--data", '{"damage": 55000}', "--as", "sam",
               "--db", url)
    assert done.exit_code == 0, done.output
    with Store.open(url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.execute(noted, commands.SetVariables(variables={"note": "called back"}, actor="ann"))
    now = _version(url, changed)
    stale = _flags(url, env)
    assert all(not r["current"] for r in stale)
    assert {(r["judged_version"], r["case_version"]) for r in stale if r["case_id"] == changed} == {(judged, now)}
    table = _cw(env, "suggest", "flags", "--db", url)
    lines = table.stdout.splitlines()
    marked = [block for block in finding_blocks(table.stdout) if f" {changed} " in block]
    assert marked and all(f"judged case changed since (v{judged}, now v{now})" in block for block in marked)
    assert lines[-1] == (f"out of date: {len(stale)} of {len(stale)} findings were judged before their case last "
                         f"changed; {REFRESH}")

    # Judged again: current, and where the findings stayed what they were (the note changed none), the rows are
    # not rewritten, only the version and time they were judged at move on.
    assert _cw(env, "suggest", "refresh", "--db", url, "--case-type", "insurance_claim").exit_code == 0
    again = _flags(url, env)
    assert all(r["current"] for r in again)
    assert {r["case_version"] for r in again if r["case_id"] == changed} == {now}
    moved = ("judged_version", "case_version", "checked_at", "current")
    before = [{k: v for k, v in r.items() if k not in moved} for r in stale if r["case_id"] == noted]
    assert [{k: v for k, v in r.items() if k not in moved} for r in again if r["case_id"] == noted] == before
    lines = _cw(env, "suggest", "flags", "--db", url).stdout.splitlines()
    assert lines[-1] == f"all {len(again)} findings were judged on their case as it is now"


def test_one_finding_listed_is_counted_in_the_singular(
    claims: tuple[str, dict[str, str], list[str]], tmp_path: Path,
) -> None:
    url, env, (changed, _) = claims
    lines = _cw(env, "suggest", "flags", "--db", url, "--limit", "1").stdout.splitlines()
    assert lines[-1] == "the 1 finding was judged on its case as it is now"
    with Store.open(url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.execute(changed, commands.SetVariables(variables={"note": "called back"}, actor="ann"))
    lines = _cw(env, "suggest", "flags", "--db", url, "--case", changed, "--limit", "1").stdout.splitlines()
    assert lines[-1] == ("out of date: 1 of 1 finding was judged before its case last changed; run `casework "
                         "suggest refresh --case-type insurance_claim` to judge it again")


def test_a_finding_judged_before_its_case_was_migrated_says_so(
    claims: tuple[str, dict[str, str], list[str]], tmp_path: Path,
) -> None:
    url, env, (migrated, kept) = claims
    (rule,) = [r for r in _flags(url, env) if r["case_id"] == migrated and r["finding_id"] == "rule:large-claim-expert"]
    assert rule["action"]["kind"] == "plan" and rule["action"]["target"] == "Expert opinion"
    # Version 2 of the model has no "Expert opinion": what was judged on version 1 may not hold on it.
    v2 = tmp_path / "v2.cmmn"
    v2.write_text(demo_model_xml("insurance_claim.cmmn").replace('"Expert opinion"', '"Expert review"'))
    assert _cw(env, "deploy", str(v2), "--db", url).exit_code == 0
    moved = _cw(env, "migrate", "insuranceClaim", "--to", "2", "--case", migrated, "--reason", "expert review",
                "--as", "ann", "--db", url)
    assert moved.exit_code == 0, moved.output
    rows = _flags(url, env)
    stale = [r for r in rows if r["case_id"] == migrated]
    assert stale and all(not r["current"] and r["migrated"] and r["definition_version"] == 2 for r in stale)
    assert all(r["current"] and not r["migrated"] and r["definition_version"] == 1 for r in rows
               if r["case_id"] == kept)
    listed = _cw(env, "suggest", "flags", "--db", url).stdout
    lines = listed.splitlines()
    marked = [block for block in finding_blocks(listed) if f" {migrated} " in block]
    assert marked and all("judged before migration to version 2" in block for block in marked)
    assert lines[-1] == (f"out of date: {len(stale)} of {len(rows)} findings were judged before their case last "
                         f"changed ({len(stale)} before it was migrated to another version of its model); {REFRESH}")
    assert _cw(env, "suggest", "refresh", "--db", url, "--case-type", "insurance_claim").exit_code == 0
    rows = _flags(url, env)
    assert all(r["current"] and not r["migrated"] for r in rows)
    assert {r["definition_version"] for r in rows if r["case_id"] == migrated} == {2}
