"""`casework cases`: the stored cases, newest first, filtered by definition, version and state, paged by --limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MODEL = """<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="{key}" name="{key}">
    <casePlanModel id="plan" name="{key}">
      <planItem id="pCheck" definitionRef="check"/>
      <humanTask id="check" name="Check {note}"/>
    </casePlanModel>
  </case>
</definitions>
"""


@pytest.fixture
def filled(db_url: str, tmp_path: Path) -> str:
    """permit v1: p0 (completed), p1 (open); permit v2: p2 (open, suspended), p3 (open); grant v1: g0 (open).
    Started an hour apart in that order."""
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        starts = iter(T0 + timedelta(hours=n) for n in range(10))
        svc.deploy(MODEL.format(key="permit", note="plans"))
        svc.start_case("permit", case_id="p0", business_key="B-0", now=next(starts))
        svc.start_case("permit", case_id="p1", now=next(starts))
        svc.execute("p0", commands.CompleteItem(item="Check plans"), now=T0 + timedelta(hours=8))
        svc.deploy(MODEL.format(key="permit", note="the plans"))
        svc.start_case("permit", case_id="p2", now=next(starts))
        svc.execute("p2", commands.SuspendCase())
        svc.start_case("permit", case_id="p3", now=next(starts))
        svc.deploy(MODEL.format(key="grant", note="grant"))
        svc.start_case("grant", case_id="g0", now=next(starts))
    return db_url


def _listed(db_url: str, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["cases", "--db", db_url, "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_cases_are_listed_newest_first_with_their_definition_version_and_state(filled: str) -> None:
    rows = _listed(filled)
    assert [(r["id"], r["definition"], r["version"], r["state"]) for r in rows] == [
        ("g0", "grant", 1, "active"), ("p3", "permit", 2, "active"), ("p2", "permit", 2, "suspended"),
        ("p1", "permit", 1, "active"), ("p0", "permit", 1, "completed")]
    p0 = rows[-1]
    assert p0["business_key"] == "B-0" and p0["started"] == T0.isoformat()
    assert p0["last_change"] == (T0 + timedelta(hours=8)).isoformat()


@pytest.mark.parametrize(("args", "ids"), [
    (["--definition", "permit"], ["p3", "p2", "p1", "p0"]),
    (["--definition", "permit", "--version", "1"], ["p1", "p0"]),
    (["--state", "open"], ["g0", "p3", "p2", "p1"]),
    (["--state", "closed"], ["p0"]),
    (["--state", "suspended"], ["p2"]),
    (["--definition", "permit", "--version", "2", "--state", "active"], ["p3"]),
    (["--limit", "2"], ["g0", "p3"]),
])
def test_filters_and_limit(filled: str, args: list[str], ids: list[str]) -> None:
    assert [r["id"] for r in _listed(filled, *args)] == ids


def test_the_table_says_when_more_cases_match_than_it_shows(filled: str) -> None:
    result = runner.invoke(app, ["cases", "--db", filled, "--limit", "4"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "4 cases, newest first (more match: raise --limit above 4)" in result.stdout
    assert "permit@2" in result.stdout and "g0" in result.stdout and "p0" not in result.stdout
    every = runner.invoke(app, ["cases", "--db", filled, "--limit", "5"], env={"COLUMNS": "200"})
    assert every.stdout.splitlines()[0].strip() == "5 cases" and "more match" not in every.stdout


@pytest.mark.parametrize(("args", "said"), [
    (["--state", "bogus"], "unknown state 'bogus'"),
    (["--version", "1"], "give --definition too"),
    (["--limit", "0"], "--limit"),
    # a mistyped key read as "0 cases"
    (["--definition", "permits"], "no definition key 'permits' in the store (its keys: grant, permit;"),
])
def test_bad_options_exit_2(filled: str, args: list[str], said: str) -> None:
    result = runner.invoke(app, ["cases", "--db", filled, *args])
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert result.stderr.startswith("error: ") and said in result.stderr


def test_a_known_definition_with_no_case_in_the_state_asked_lists_none(filled: str) -> None:
    assert _listed(filled, "--definition", "grant", "--state", "closed") == []


def test_long_ids_are_folded_not_cut_in_an_80_column_terminal(db_url: str, tmp_path: Path) -> None:
    case_id, key = "dfc6122368f24521b952ba4a17654fd7", "insuranceClaimWithALongKey"
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store, CaseService(store) as svc:
        svc.deploy(MODEL.format(key=key, note="claim"))
        svc.start_case(key, case_id=case_id, now=T0)
    for command in (["cases"], ["tasks", "--case", case_id]):
        result = runner.invoke(app, [*command, "--db", db_url], env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        # "dfc6122368…" and "insuranceC…" could not be typed into the next command
        assert "…" not in result.stdout, result.stdout
        first = "".join(line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│"))
        assert first == case_id, result.stdout
