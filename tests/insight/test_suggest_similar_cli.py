"""`casework suggest similar`: the closed cases of a stored case's definition most like it, by its data, the reasons
given on its audit trail, its documents' text and its path, with how each ended and how long it took (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import sys
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


LOG = """case_id,activity,timestamp,resource
fraud,Register claim,2026-01-01T09:00:00,ann
fraud,Send letter,2026-01-01T10:00:00,
fraud,Assess damage,2026-01-02T09:00:00,ann
fraud,Fraud check,2026-01-03T09:00:00,bob
fraud,Decide claim,2026-01-05T21:00:00,bob
docs,Register claim,2026-01-02T09:00:00,eve
docs,Collect documents,2026-01-02T10:00:00,eve
docs,Assess damage,2026-01-04T09:00:00,eve
docs,Decide claim,2026-01-12T09:00:00,eve
docs,Pay claimant,2026-01-13T09:00:00,eve
assess,Register claim,2026-01-03T09:00:00,eve
assess,Assess damage,2026-01-03T10:00:00,eve
assess,Collect documents,2026-01-04T09:00:00,eve
assess,Pay claimant,2026-01-09T09:00:00,eve
withdrawn,Register claim,2026-01-04T09:00:00,dan
withdrawn,Claimant withdraws,2026-01-05T09:00:00,dan
"""


@pytest.fixture
def history(db_url: str, tmp_path: Path) -> tuple[str, dict[str, str], dict[str, str]]:
    """(URL, environment, case ids by role): a claim run here about hail, closed; an imported log's four closed claims
    (with performers; one of them went Register, Assess, Fraud check like the open case); and an open claim about
    hail that has been registered, assessed and fraud-checked by ann."""
    from casework.export.importlog import import_log

    env = {"COLUMNS": "300", "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key")}
    log = tmp_path / "claims.csv"
    log.write_text(LOG, encoding="utf-8")
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as st, CaseService(st) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        ids = {"hail": _closed(svc, {"amount": 3000, "cause": "hail storm dented the bonnet"}, withdrawn=True,
                               reason="garage quote for hail dents", days=4, started=0)}
        assert import_log(st, log, "insuranceClaim").cases == 4
        ids |= {row.business_key.removeprefix("claims:"): row.id
                for row in st.case_listing(definition_key="insuranceClaim") if row.source == "import"}
        case_id = svc.start_case("insuranceClaim", {"amount": 12500, "cause": "hail storm"}, actor="ann",
                                 now=T0).case_id
        for step, days in (("Register claim", 0), ("Assess damage", 1), ("Fraud check", 2)):
            svc.execute(case_id, commands.CompleteItem(item=step, actor="ann"), T0 + dt.timedelta(days))
        ids["open"] = case_id
    return db_url, env, ids


def test_imported_closed_cases_are_compared_by_their_path_so_far_and_marked_so(
    history: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    url, env, ids = history
    shown = _similar(url, env, ids["open"])
    assert (shown["compared"], shown["compared_by_path_alone"], shown["path_steps"]) == (5, 4, 3)
    assert shown["not_compared"] is None
    by_case = {m["case"]: m for m in shown["similar"]}
    # The imported claim that went Register, Assess damage, Fraud check (its letter is no step of the plan) is the
    # best of them by path; the one that went on to Collect documents comes next; the one that shares only the first
    # step every case takes is no match.
    path_alone = [m["case"] for m in shown["similar"] if m["path_alone"]]
    assert path_alone[:2] == [ids["fraud"], ids["assess"]]
    assert ids["withdrawn"] not in by_case
    fraud = by_case[ids["fraud"]]
    # its outcome is its last activity, its duration from its first row to its last, as the log has them
    assert fraud["outcome"] == "completed after Decide claim" and fraud["duration_days"] == 4.5
    assert "path: Assess damage → Fraud check" in fraud["why"] and "Assess damage by ann" in fraud["why"]
    # the claim run here is compared by its content, and shares the open one's words
    assert not by_case[ids["hail"]]["path_alone"] and "hail" in by_case[ids["hail"]]["why"]
    table = runner.invoke(app, ["suggest", "similar", ids["open"], "--db", url], env=env)
    assert table.exit_code == 0, table.output
    assert "compared with 5, 4 of them by path alone (its first 3 steps)" in table.stdout
    line = next(row for row in table.stdout.splitlines() if ids["fraud"] in row)
    assert "path alone" in line and "completed after Decide claim" in line and "4.5 days" in line
    hail = next(row for row in table.stdout.splitlines() if ids["hail"] in row)
    assert "content and path" in hail


def test_the_limit_bounds_imported_and_run_cases_together(
    history: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    url, env, ids = history
    # newest first: the hail claim of 2026-03 and the log's last three claims (the fraud claim began first)
    shown = _similar(url, env, ids["open"], "--limit", "4")
    assert (shown["compared"], shown["compared_by_path_alone"]) == (4, 3)
    assert ids["fraud"] not in {m["case"] for m in shown["similar"]}


def test_a_case_at_its_first_step_finds_no_imported_case_like_it(db_url: str, tmp_path: Path) -> None:
    from casework.export.importlog import import_log

    log = tmp_path / "claims.csv"
    log.write_text(LOG, encoding="utf-8")
    env = {"CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key")}
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as st, CaseService(st) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        fresh = svc.start_case("insuranceClaim", {"cause": "hail"}, actor="ann", now=T0).case_id
        registered = svc.start_case("insuranceClaim", {"cause": "hail"}, actor="ann", now=T0).case_id
        # by someone who performs no step of the log: the step alone is what the case shares with them
        svc.execute(registered, commands.CompleteItem(item="Register claim", actor="zed"), T0)
        import_log(st, log, "insuranceClaim")
    # Imported cases are compared now: the message that they have nothing to compare is gone. A case that has taken
    # no step yet is told why none is compared ...
    result = runner.invoke(app, ["suggest", "similar", fresh, "--db", db_url], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"no closed case of insuranceClaim to compare case {fresh} with: the 4 imported closed "
                             f"cases of insuranceClaim are compared by path alone, and case {fresh} has taken none of "
                             "their steps yet\n")
    # ... and one that has only taken the step every case starts with is like none of them in particular
    result = runner.invoke(app, ["suggest", "similar", registered, "--db", db_url], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"no closed case of insuranceClaim is like case {registered} (compared with 4, 4 of them "
                             "by path alone (its first step))\n")


def test_a_log_that_names_no_step_of_the_plan_is_said_so_not_ranked(db_url: str, tmp_path: Path) -> None:
    from casework.export.importlog import import_log

    log = tmp_path / "loans.csv"
    log.write_text("case_id,activity,timestamp\nc1,A_SUBMITTED,2026-01-01T09:00:00\n"
                   "c1,A_PREACCEPTED,2026-01-01T10:00:00\nc2,A_SUBMITTED,2026-01-02T09:00:00\n", encoding="utf-8")
    env = {"COLUMNS": "300", "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.key")}
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as st, CaseService(st) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        hail = _closed(svc, {"cause": "hail storm dented the bonnet"}, withdrawn=True, reason="hail", days=4,
                       started=0)
        case_id = svc.start_case("insuranceClaim", {"cause": "hail storm"}, actor="ann", now=T0).case_id
        svc.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann"), T0)
        import_log(st, log, "insuranceClaim")
    why = ("the 2 imported closed cases of insuranceClaim were not compared: none of the 2 activities of their log is "
           "the name of an item of insuranceClaim's plan (a log's steps are its items by name, as `suggest case` maps "
           "a model's)")
    result = runner.invoke(app, ["suggest", "similar", case_id, "--db", db_url, "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["compared"], shown["compared_by_path_alone"], shown["not_compared"]) == (1, 0, why)
    assert [m["case"] for m in shown["similar"]] == [hail]
    assert f"note: {why}" in result.stderr
    table = runner.invoke(app, ["suggest", "similar", case_id, "--db", db_url], env=env)
    assert hail in table.stdout and f"note: {why}" in table.stderr


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


def test_without_the_embeddings_extra_the_install_is_said_for_the_python_casework_runs_on(
    store: tuple[str, dict[str, str], dict[str, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from casework.insight import embeddings

    # the extra absent, as on a plain `make run` install (CI has it, so it is taken away here)
    monkeypatch.setattr(embeddings, "embeddings_available", lambda: False)
    url, env, ids = store
    result = runner.invoke(app, ["suggest", "similar", ids["open"], "--method", "embeddings", "--db", url], env=env)
    # not a bare `pip install 'casework[embeddings]'`: that pip may be another Python's, and casework is installed
    # from its checkout, not from the package index
    python = sys.executable
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (f"error: --method embeddings needs the embeddings extra: in the casework checkout, "
                             f"`{python} -m pip install torch==2.13.0` (the CPU build), then "
                             f"`{python} -m pip install -e '.[embeddings]'`\n")


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
    assert "note: 1 document was compared by its kind alone: its text is not stored yet, and it is" in result.stderr
    assert "bonnet" not in {term for match in shown["similar"] for term in match["why"]}
