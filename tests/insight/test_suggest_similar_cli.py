"""`casework suggest similar`: the closed cases of a stored case's definition most like it, by its data, the reasons
given on its audit trail, its documents' text and its path, with how each ended and how long it took (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import commands
from casework.service import CaseService
from casework.store import Store
from casework.store.url import create_store_engine

runner = CliRunner()
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _closed(svc: CaseService, data: dict[str, Any], *, withdrawn: bool, reason: str, days: int, started: int) -> str:
    start = T0 + dt.timedelta(hours=started)
    case_id = svc.start_case("insuranceClaim", data, actor="ann", now=start).case_id
    svc.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann", reason=reason), start)
    end = start + dt.timedelta(days)
    if withdrawn:
        svc.execute(case_id, commands.OccurEvent(item="Claimant withdraws", actor="ann"), end)
    else:
        svc.execute(case_id, commands.TerminateCase(actor="ann", reason="closed"), end)
    return case_id


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    """(URL, environment, case ids by role): three closed claims of which one is about hail, an open hail claim with
    a letter attached, and a closed claim of another definition that must never be compared."""
    env = {"COLUMNS": "300", "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key"),
           "CASEWORK_BLOBS": str(tmp_path / "blobs")}
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as st, CaseService(st) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        svc.deploy(demo_model_xml("insurance_claim.cmmn").replace('id="insuranceClaim"', 'id="otherClaim"'))
        ids = {
            "hail": _closed(svc, {"amount": 3000, "cause": "hail storm dented the bonnet"}, withdrawn=True,
                            reason="garage quote for hail dents", days=4, started=0),
            "pipe": _closed(svc, {"amount": 9000, "cause": "burst pipe flooded the kitchen"}, withdrawn=False,
                            reason="plumber invoice", days=20, started=1),
            "theft": _closed(svc, {"amount": 15000, "cause": "car stolen overnight"}, withdrawn=False,
                             reason="police report filed", days=30, started=2),
            "open": svc.start_case("insuranceClaim", {"amount": 2500}, actor="ann", now=T0).case_id,
        }
        other = svc.start_case("otherClaim", {"cause": "hail storm dented the bonnet, hail dents"}, actor="ann",
                               now=T0).case_id
        svc.execute(other, commands.TerminateCase(actor="ann", reason="hail dents"), T0)
        ids["other"] = other
    letter = tmp_path / "letter.txt"
    letter.write_text("The hail storm last night dented the bonnet; the garage will send a quote.", encoding="utf-8")
    result = runner.invoke(app, ["case", "attach", ids["open"], str(letter), "--as", "ann", "--db", db_url], env=env)
    assert result.exit_code == 0, result.output
    return db_url, env, ids


def forget_texts(url: str) -> None:
    """The documents' stored texts gone, as in a database whose documents were attached before texts were stored."""
    engine = create_store_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM document_text_pages")
            conn.exec_driver_sql("DELETE FROM document_texts")
    finally:
        engine.dispose()


def _similar(url: str, env: dict[str, str], case_id: str, *more: str) -> dict[str, Any]:
    result = runner.invoke(app, ["suggest", "similar", case_id, "--db", url, "--json", *more], env=env)
    assert result.exit_code == 0, result.output
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def test_the_closed_case_about_the_same_thing_comes_first_with_how_it_ended_and_why(
    store: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    url, env, ids = store
    shown = _similar(url, env, ids["open"])
    # Only the definition's closed cases are compared: not the open one itself, not the other definition's.
    assert shown["compared"] == 3
    best = shown["similar"][0]
    # The open case's words are in its attached letter only; the hail claim's in its data and its audit trail.
    assert best["case"] == ids["hail"]
    assert best["outcome"] == "terminated after Register claim" and best["duration_days"] == 4.0
    assert {"hail", "bonnet", "dented"} <= set(best["why"])
    assert ids["other"] not in {m["case"] for m in shown["similar"]}
    table = runner.invoke(app, ["suggest", "similar", ids["open"], "--db", url, "--k", "1"], env=env).stdout
    assert ids["hail"] in table and ids["pipe"] not in table and "4.0 days" in table


def test_the_newest_closed_cases_are_compared_up_to_the_limit(
    store: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    url, env, ids = store
    shown = _similar(url, env, ids["open"], "--limit", "2")
    assert shown["compared"] == 2  # the pipe and the theft: the hail claim is the oldest
    assert ids["hail"] not in {m["case"] for m in shown["similar"]}


def test_a_case_with_no_closed_case_of_its_definition_says_so(
    store: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    url, env, ids = store
    other = runner.invoke(app, ["suggest", "similar", ids["other"], "--db", url], env=env)
    assert other.exit_code == 0, other.output
    # it said "... is like case X (compared with 0)", as if they had been compared and found unlike
    assert other.stdout == f"no closed case of otherClaim to compare case {ids['other']} with\n"


def test_the_closed_cases_of_an_imported_log_are_said_not_to_be_compared(tmp_path: Path) -> None:
    from casework.export.importlog import import_log

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    log = tmp_path / "claims.csv"
    log.write_text("case_id,activity,timestamp\nc1,Register claim,2026-01-01T09:00:00\n"
                   "c2,Register claim,2026-01-02T09:00:00\n", encoding="utf-8")
    with Store.open(url, audit_key=tmp_path / "audit.key") as st, CaseService(st) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = svc.start_case("insuranceClaim", {"cause": "hail"}, actor="ann", now=T0).case_id
        import_log(st, log, "insuranceClaim")
    result = runner.invoke(app, ["suggest", "similar", case_id, "--db", url],
                           env={"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key")})
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"no closed case of insuranceClaim to compare case {case_id} with: the 2 closed cases of "
                             "insuranceClaim were imported from a log, and have no data, notes or documents to "
                             "compare\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "error: no case nope"),
        (["OPEN", "--method", "embedings"], "error: --method 'embedings': choose lexical or embeddings"),
    ],
)
def test_bad_requests_are_refused_in_one_line(
    store: tuple[str, dict[str, str], dict[str, str]], args: list[str], message: str,
) -> None:
    url, env, ids = store
    args = [ids["open"] if a == "OPEN" else a for a in args]
    result = runner.invoke(app, ["suggest", "similar", *args, "--db", url], env=env)
    assert result.exit_code == 2 and result.stderr.startswith(message), result.output


@pytest.mark.parametrize("bound", ["DOCUMENTS_SECONDS", "DOCUMENT_BYTES"])
def test_documents_past_the_reading_budget_are_compared_by_their_kind_and_that_is_said(
    store: tuple[str, dict[str, str], dict[str, str]], monkeypatch: pytest.MonkeyPatch, bound: str,
) -> None:
    from casework.insight import similar_cli

    url, env, ids = store
    forget_texts(url)  # attached before texts were stored: a query reads it
    # Every query reads the documents not stored yet: one slow or huge upload must not slow them all.
    monkeypatch.setattr(similar_cli, bound, 0)
    result = runner.invoke(app, ["suggest", "similar", ids["open"], "--db", url, "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["documents_by_kind_only"] == 1  # the open claim's letter: its words are not read
    assert "note: 1 documents were compared by their kind alone" in result.stderr
    assert "bonnet" not in {term for match in shown["similar"] for term in match["why"]}
