from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path

from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.demo.open_claims import ACCEPT, DISMISS, OPEN_CLAIMS, judge, offered, store_open_claims
from casework.service import CaseService
from casework.store.cli import open_store

NOW = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)


def _inbox(url: str) -> dict[str, set[tuple[str | None, str | None, tuple[str, ...], dt.datetime | None]]]:
    """Each open claim's open tasks as `casework tasks` reads them: name, owner, groups, due."""
    with open_store(url, create=False) as store:
        return {
            claim.case_id: {
                (row.name, row.owner, row.candidate_groups, row.due_at)
                for row in store.tasks(case_id=claim.case_id, states=("active", "enabled"), kinds=("humanTask",))
            }
            for claim in OPEN_CLAIMS
        }


def test_the_open_claims_stand_where_the_tour_says_with_times_relative_to_now(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with open_store(url, create=True) as store, CaseService(store) as service:
        key, _ = service.deploy(demo_model_xml("insurance_claim.cmmn"))
        stored = store_open_claims(service, key, NOW)
        assert [(c.case_id, new) for c, new in stored] == [(c.case_id, True) for c in OPEN_CLAIMS]
        findings = judge(service, [c.case_id for c in OPEN_CLAIMS], NOW)
        opened = {c.case_id: store.events(c.case_id)[0].at for c in OPEN_CLAIMS}
        assert {store.case(c.case_id).status for c in OPEN_CLAIMS} == {"active"}  # type: ignore[union-attr]
    assert _inbox(url) == {
        "claim-2001": {("Register claim", None, ("claims-office",), None)},
        "claim-2002": {("Assess damage", "sam", (), None), ("Collect documents", "bob", ("claims-office",), None),
                       ("Fraud check", None, ("fraud-team",), None)},
        "claim-2003": {("Assess damage", "bob", (), None)},
        # due two days before now: overdue
        "claim-2004": {("Decide claim", "sam", ("claims-managers",), NOW - dt.timedelta(days=2))},
    }
    assert opened["claim-2003"] == "2025-02-26T09:00:00Z"  # twelve days before now
    assert [f.id for f in findings["claim-2002"]] == ["missing-document:police_report"]
    assert [f.id for f in findings["claim-2003"]] == ["rule:workshop-follow-up"]
    assert offered(findings, ACCEPT) and offered(findings, DISMISS)


def test_storing_them_again_leaves_the_stored_claims_as_they_are(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with open_store(url, create=True) as store, CaseService(store) as service:
        key, _ = service.deploy(demo_model_xml("insurance_claim.cmmn"))
        store_open_claims(service, key, NOW)
        versions = {c.case_id: store.case_head(c.case_id).version for c in OPEN_CLAIMS}  # type: ignore[union-attr]
        again = store_open_claims(service, key, NOW + dt.timedelta(days=1))
        assert [new for _, new in again] == [False] * len(OPEN_CLAIMS)
        assert {c.case_id: store.case_head(c.case_id).version for c in OPEN_CLAIMS} == versions  # type: ignore[union-attr]


def _run(args: list[str]) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", "CASEWORK_DB": None})
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _work_commands(output: str) -> list[list[str]]:
    lines = output.splitlines()
    tail = lines[lines.index("work on the open claims with:") + 1:]
    return [shlex.split(line)[1:] for line in tail]


def test_the_demo_prints_commands_on_its_open_claims_that_run_and_a_second_run_leaves_them_be(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    first = _run(["demo", "--db", db])
    assert "  claim-2002  in assessment: a fraud check for the fraud-team, and the police report is missing" in first
    commands = _work_commands(first)
    assert [c[:2] for c in commands] == [
        ["tasks", "--owner"], ["tasks", "--group"], ["tasks", "--owner"], ["suggest", "case"], ["suggest", "accept"],
        ["suggest", "dismiss"], ["suggest", "flags"], ["suggest", "feedback"], ["audit", "verify"],
    ]
    outputs = [_run(command) for command in commands]  # each exits 0 on the demo's database
    assert "claim-2002 │ Collect documents" in outputs[0] and "claim-2003 │ Assess damage" in outputs[0]
    assert "claim-2002 │ Fraud check" in outputs[1]
    assert "claim-2004 │ Decide claim" in outputs[2]
    assert "missing-document:police_report" in outputs[3]
    assert outputs[4].startswith("accepted: missing-document:police_report")
    assert outputs[5].startswith("dismissed: rule:workshop-follow-up")
    assert "the workshop sent its quote yesterday" in outputs[7]
    assert outputs[8].startswith("audit: 5 cases,") and outputs[8].rstrip().endswith("ok")

    # Again on the same database: another walked claim; the open claims are kept as they were left, and what was
    # decided on them is no longer offered.
    second = _run(["demo", "--db", db])
    assert "  claim-2002  in assessment: a fraud check for the fraud-team, and the police report is missing (from an " \
           "earlier run, as it was left)" in second
    assert "audit: 6 cases," in second
    again = _work_commands(second)
    assert [c[:2] for c in again] == [
        ["tasks", "--owner"], ["tasks", "--group"], ["tasks", "--owner"], ["suggest", "case"], ["suggest", "flags"],
        ["suggest", "feedback"], ["audit", "verify"],
    ]
    for command in again:
        _run(command)
