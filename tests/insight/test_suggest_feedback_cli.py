from __future__ import annotations

import datetime as dt
import json

from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import commands
from casework.insight.rules import Action, Flag, feedback_command
from casework.service import CaseService
from casework.store import Store

runner = CliRunner()
NOW = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
POLICE = Flag("missing-document:police_report", "Missing document: police report", "warning", "required", "gap",
              Action("request_document", "police_report", "request document: police report"))
NEXT = {"activity": "Assess damage", "probability": 0.8, "reason": "after Register claim, 80% did Assess damage",
        "action": {"kind": "start", "target": "Assess damage", "label": "start Assess damage", "item": "i3",
                   "task": None}, "note": "", "model_version": "nba-1"}


def _recorded(url: str) -> None:
    with Store.open(url) as store:
        service = CaseService(store)
        key, _ = service.deploy(demo_model_xml("insurance_claim.cmmn"))
        first = service.start_case(key, {"amount": 12500}, actor="ann", now=NOW).case_id
        second = service.start_case(key, {"amount": 200}, actor="bob", now=NOW).case_id
        service.execute(first, feedback_command(POLICE, accepted=True, actor="ann"), NOW)
        service.execute(second, feedback_command(POLICE, accepted=False, actor="bob", reason="minor damage"),
                        NOW + dt.timedelta(days=1))
        for case_id, accepted in ((first, True), (second, True), (second, False)):
            if not accepted:
                # A next action is answered once at each step of the case: the second case moved on meanwhile.
                service.execute(second, commands.CompleteItem(item="Register claim", actor="bob"),
                                NOW + dt.timedelta(days=2))
            cmd = commands.RecordFeedback(suggestion=NEXT, accepted=accepted, model_version="nba-1", actor="ann",
                                          reason=None if accepted else "done already")
            service.execute(case_id, cmd, NOW + dt.timedelta(days=2))
        service.close()


def test_acceptance_rates_from_the_stored_audit_trail(db_url: str) -> None:
    _recorded(db_url)
    result = runner.invoke(app, ["suggest", "feedback", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    rows = {(r["subject"], r["model_version"]): r for r in json.loads(result.stdout)}
    assert set(rows) == {("missing-document:police_report", ""), ("next-best action", "nba-1")}
    police, nba = rows[("missing-document:police_report", "")], rows[("next-best action", "nba-1")]
    assert (police["accepted"], police["dismissed"], police["cases"], police["people"]) == (1, 1, 2, 2)
    assert police["dismiss_reasons"] == [{"reason": "minor damage", "count": 1}]
    assert (nba["decisions"], nba["acceptance_rate"], nba["cases"]) == (3, 0.6667, 2)

    table = runner.invoke(app, ["suggest", "feedback", "--db", db_url, "--by-activity"], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "Assess damage" in table.stdout and "67%" in table.stdout and "done already (1)" in table.stdout

    later = runner.invoke(app, ["suggest", "feedback", "--db", db_url, "--json", "--since", "2026-03-02T12:00"])
    assert [(r["subject"], r["decisions"]) for r in json.loads(later.stdout)] == [("next-best action", 3)]
    # the case type's key for its definition's: it was "no suggestion has been accepted or dismissed yet", exit 0
    for extra in ([], ["--json"]):
        other = runner.invoke(app, ["suggest", "feedback", "--db", db_url, "--definition", "insurance_claim", *extra])
        assert other.exit_code == 2 and other.stdout == "", other.output
        assert other.stderr == ("error: no definition key 'insurance_claim' in the store (its keys: insuranceClaim; an "
                                "imported log's is the --definition it was imported under)\n")
    with Store.open(db_url) as store:
        other = demo_model_xml("insurance_claim.cmmn").replace('id="insuranceClaim"', 'id="otherClaim"')
        CaseService(store).deploy(other)
    # a definition the store has, without decisions yet, is no error
    none_yet = runner.invoke(app, ["suggest", "feedback", "--db", db_url, "--definition", "otherClaim"])
    assert none_yet.exit_code == 0 and "no suggestion has been accepted or dismissed yet" in none_yet.stdout


def test_bad_options_and_a_missing_database_are_clear_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'none.db'}"
    missing = runner.invoke(app, ["suggest", "feedback", "--db", url])
    assert missing.exit_code == 2 and "no database at" in missing.output
    assert not (tmp_path / "none.db").exists()
    bad = runner.invoke(app, ["suggest", "feedback", "--db", url, "--since", "last week"])
    assert bad.exit_code == 2 and "'last week' is not an ISO-8601 date or time" in bad.output
    period = ["--since", "2026-03-02", "--until", "2026-03-01"]
    backwards = runner.invoke(app, ["suggest", "feedback", "--db", url, *period])
    assert backwards.exit_code == 2 and "is not before --until" in backwards.output


def test_the_last_decision_shows_on_the_organisations_clock(db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _recorded(db_url)
    monkeypatch.setenv("CASEWORK_TIMEZONE", "Asia/Tokyo")
    table = runner.invoke(app, ["suggest", "feedback", "--db", db_url], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    # the last decisions were at 09:00 UTC on 2 and 3 March: 18:00 in Tokyo, and named so
    assert "2026-03-03 18:00 JST" in table.stdout and "2026-03-02 18:00 JST" in table.stdout


def test_a_rate_short_of_all_or_above_none_never_reads_as_100_or_0_percent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with Store.open(url) as store:
        service = CaseService(store)
        key, _ = service.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = service.start_case(key, {"amount": 100}, actor="ann", now=NOW).case_id
        # 200 next actions answered at the case's first step: one model version accepted 199, the other 1
        for i in range(200):
            for version, accepted in (("nba-most", i > 0), ("nba-few", i == 0)):
                suggestion = {**NEXT, "activity": f"{version} step {i}", "model_version": version}
                service.execute(case_id, commands.RecordFeedback(
                    suggestion=suggestion, accepted=accepted, model_version=version, actor="ann",
                    reason=None if accepted else "no"), NOW)
        service.close()
    table = runner.invoke(app, ["suggest", "feedback", "--db", url], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    cells = [[cell.strip() for cell in line.split("│")] for line in table.stdout.splitlines() if "nba-" in line]
    # suggestion, model version, decisions, accepted, dismissed, acceptance
    rates = {row[2]: (row[4], row[5], row[6]) for row in cells}
    # they read "100%" and "0%" (1 of 200 is 0.5%, which Python's rounding to even made 0)
    assert rates == {"nba-most": ("199", "1", ">99%"), "nba-few": ("1", "199", "<1%")}, table.stdout
