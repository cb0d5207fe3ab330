from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.demo import demo_model_xml
from casework.engine import CommandRejected, commands
from casework.insight.casetype import bundled_case_type
from casework.insight.watch import FindingsWatcher
from casework.service import CaseService
from casework.store import Store

T0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def watched(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    clock = Clock()
    store = Store.open(db_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs")
    service = CaseService(store, clock=clock)
    service.deploy(demo_model_xml("insurance_claim.cmmn"))
    watcher = FindingsWatcher(service, [bundled_case_type("insurance_claim")]).attach()
    yield service, watcher, clock
    service.close()
    store.close()


def _ids(store: Store, case_id: str) -> dict[str, dt.datetime]:
    return {f.finding_id: f.raised_at for f in store.findings(case_id=case_id)}


def test_findings_follow_every_change_of_the_case(watched) -> None:  # type: ignore[no-untyped-def]
    service, _, clock = watched
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    first = _ids(service.store, case_id)
    assert {"missing-field:policyNumber", "missing-field:claimant", "missing-document:police_report"} <= set(first)
    assert set(first.values()) == {T0}

    clock.now = T0 + HOUR
    service.execute(case_id, commands.SetVariables(variables={"policyNumber": "AB-123456", "claimant": "Ann Smith"},
                                                   actor="ann"))
    second = _ids(service.store, case_id)
    assert "missing-field:policyNumber" not in second and "missing-field:claimant" not in second
    assert second["missing-document:police_report"] == T0  # still there: raised when it first appeared
    (row,) = [f for f in service.store.findings(case_id=case_id) if f.finding_id == "missing-document:police_report"]
    assert row.checked_at == T0 + HOUR and row.judged_version == service.store.case(case_id).version  # type: ignore[union-attr]
    assert row.action is not None and row.action["kind"] == "request_document"

    clock.now = T0 + 2 * HOUR
    service.add_document(case_id, "police_report.pdf", b"%PDF-1.4 report", media_type="application/pdf", actor="ann")
    assert "missing-document:police_report" not in _ids(service.store, case_id)

    # a command that changes nothing is no change: the findings are not judged again
    service.execute(case_id, commands.SetVariables(variables={"claimant": "Ann Smith"}, actor="ann"))
    assert {f.checked_at for f in service.store.findings(case_id=case_id)} <= {T0 + 2 * HOUR}
    # a change that leaves the findings as they are rewrites none of them: only the version they were judged at moves
    clock.now = T0 + 3 * HOUR
    before = service.store.findings(case_id=case_id)
    service.execute(case_id, commands.SetVariables(variables={"note": "called back"}, actor="ann"))
    after = service.store.findings(case_id=case_id)
    version = service.store.case(case_id).version  # type: ignore[union-attr]
    assert [replace(f, judged_version=version, case_version=version, checked_at=T0 + 3 * HOUR) for f in before] == after
    assert all(f.current for f in after) and all(f.judged_version < version for f in before)


def test_time_alone_raises_the_sla_flag_when_open_cases_are_refreshed(watched) -> None:  # type: ignore[no-untyped-def]
    service, watcher, clock = watched
    open_case = service.start_case("insuranceClaim", {"amount": 500}, actor="ann").case_id
    assert "sla:breached" not in _ids(service.store, open_case)
    clock.now = T0 + dt.timedelta(days=31)  # the case type's SLA is P30D
    assert watcher.refresh_open() == (1, len(service.store.findings(case_id=open_case)))
    (breach,) = [f for f in service.store.findings(case_id=open_case) if f.finding_id == "sla:breached"]
    assert breach.severity == "critical" and breach.raised_at == clock.now
    assert service.store.findings(min_severity="critical")[0].finding_id == "sla:breached"


def test_cases_without_a_case_type_and_stale_judgements_store_nothing(watched, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, watcher, _ = watched
    service.deploy((Path(__file__).parents[2] / "src/casework/demo/models/insurance_claim.cmmn").read_text()
                   .replace('id="insuranceClaim"', 'id="otherProcess"'))
    other = service.start_case("otherProcess", {"amount": 12500}).case_id
    assert watcher.refresh(other) is None and service.store.findings(case_id=other) == []
    case_id = service.start_case("insuranceClaim", {"amount": 12500}).case_id
    version = service.store.case(case_id).version  # type: ignore[union-attr]
    before = service.store.findings(case_id=case_id)
    assert not service.store.replace_findings(case_id, version - 1, [], T0)  # judged on an older version
    assert service.store.findings(case_id=case_id) == before


def test_a_failing_listener_never_fails_the_change(watched, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = watched

    def broken(case_id: str) -> None:
        raise RuntimeError("findings store down")

    service.add_listener(broken)
    with caplog.at_level(logging.ERROR, logger="casework"):
        result = service.start_case("insuranceClaim", {"amount": 10})
    assert result.created and service.store.case(result.case_id) is not None
    assert "a case-change listener failed" in caplog.text and "findings store down" in caplog.text


def test_the_command_lines_list_and_refresh_findings(db_url: str, tmp_path: Path) -> None:
    clock = Clock()
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store:
        service = CaseService(store, clock=clock)
        service.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = service.start_case("insuranceClaim", {"amount": 500}, actor="ann", now=T0).case_id
        service.close()
    runner = CliRunner()
    empty = runner.invoke(app, ["suggest", "flags", "--db", db_url])
    assert empty.exit_code == 0 and "nothing is flagged" in empty.stdout
    clean = runner.invoke(app, ["suggest", "flags", "--db", db_url, "--case", case_id])
    assert clean.exit_code == 0 and clean.stdout == f"nothing is flagged on case {case_id}\n"
    # a mistyped id said "nothing is flagged on case ...", as of a case with nothing wrong
    for extra in ([], ["--json"]):
        typo = runner.invoke(app, ["suggest", "flags", "--db", db_url, "--case", case_id[:-1], *extra])
        assert typo.exit_code == 2 and typo.stdout == "" and typo.stderr == f"error: no case {case_id[:-1]}\n"
    refreshed = runner.invoke(app, ["suggest", "refresh", "--case-type", "insurance_claim", "--db", db_url])
    assert refreshed.exit_code == 0 and refreshed.stdout.startswith("refresh: 1 open cases judged, ")
    assert refreshed.stderr == ""
    # a definition key mistyped in a case type judged nothing, every scheduled run, without a word
    mistyped = tmp_path / "claims.toml"
    mistyped.write_text('[case_type]\nkey = "claims"\ndefinition = "insuranceClaims"\n', encoding="utf-8")
    nothing = runner.invoke(app, ["suggest", "refresh", "--case-type", str(mistyped), "--db", db_url])
    assert nothing.exit_code == 0 and nothing.stdout == "refresh: 0 open cases judged, 0 findings stored\n"
    assert nothing.stderr == ("warning: case type 'claims' judges nothing here: no definition key 'insuranceClaims' "
                              "in the store (its keys: insuranceClaim; an imported log's is the --definition it was "
                              "imported under)\n")
    critical = runner.invoke(app, ["suggest", "flags", "--db", db_url, "--severity", "critical", "--json"])
    assert [(r["case_id"], r["finding_id"]) for r in json.loads(critical.stdout)] == [(case_id, "sla:breached")]
    table = runner.invoke(app, ["suggest", "flags", "--db", db_url, "--case", case_id], env={"COLUMNS": "250"})
    assert "SLA breached" in table.stdout and "Missing information: policy number" in table.stdout
    bad = runner.invoke(app, ["suggest", "flags", "--db", db_url, "--severity", "urgent"])
    assert bad.exit_code == 2 and "choose one of info, warning, critical" in bad.output
    unknown = runner.invoke(app, ["suggest", "refresh", "--case-type", "nonsense", "--db", db_url])
    assert unknown.exit_code == 2 and "no bundled case type 'nonsense'" in unknown.output


def test_a_case_moved_to_a_definition_no_case_type_describes_loses_its_findings(watched) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = watched
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    assert service.store.findings(case_id=case_id)
    xml = demo_model_xml("insurance_claim.cmmn").replace('id="insuranceClaim"', 'id="motorClaim"')
    key, version = service.deploy(xml)
    service.execute(case_id, commands.Migrate(definition=service.definition(key, version)[1], actor="ann"))
    assert service.store.findings(case_id=case_id) == []


def test_concurrent_changes_leave_the_findings_of_the_final_state(watched) -> None:  # type: ignore[no-untyped-def]
    import threading

    from casework.insight.flags import assess
    from casework.insight.watch import stored_documents
    from casework.service import Conflict

    service, watcher, clock = watched
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    failures: list[BaseException] = []

    def change(n: int) -> None:
        for i in range(6):
            values = {"policyNumber": "AB-123456"} if (n + i) % 2 else {"claimant": f"Ann {n}-{i}"}
            try:
                removing = ("policyNumber",) if (n + i) % 3 == 0 and "policyNumber" not in values else ()
                service.execute(case_id, commands.SetVariables(variables=values, remove=removing, actor=f"user{n}"))
            except Conflict:
                pass  # lost a race five times: allowed, nothing written
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=change, args=(n,)) for n in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []
    _, definition = service.definition("insuranceClaim")
    state = service.state(case_id)
    fresh = assess(watcher.case_types["insuranceClaim"], definition, state,
                   stored_documents(service.store, case_id), clock())
    stored = service.store.findings(case_id=case_id)
    assert {(f.finding_id, f.message, f.reason) for f in stored} == {(f.id, f.message, f.reason) for f in fresh}
    assert all(f.judged_version <= state.version for f in stored)  # judged last when they last changed


def test_a_case_that_ends_leaves_no_findings_behind(watched) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = watched
    case_id = service.start_case("insuranceClaim", {"amount": 60000, "previousClaims": 4}, actor="ann").case_id
    assert {"rule:repeat-claimant", "rule:large-claim-expert"} <= set(_ids(service.store, case_id))
    service.execute(case_id, commands.TerminateCase(actor="ann", reason="withdrawn"))
    assert service.store.findings(case_id=case_id) == []


def test_a_document_attached_to_a_suspended_case_is_judged(watched) -> None:  # type: ignore[no-untyped-def]
    service, _, clock = watched
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    service.execute(case_id, commands.SuspendCase(actor="ann", reason="waiting for the police report"))
    (missing,) = [f for f in service.store.findings(case_id=case_id)
                  if f.finding_id == "missing-document:police_report"]
    assert missing.action is not None and missing.action["blocked"].startswith("the case is suspended")

    clock.now = T0 + HOUR
    service.add_document(case_id, "police_report.pdf", b"%PDF-1.4 report", media_type="application/pdf", actor="ann")
    # Judged again as any change is, on the case as it stands (still on hold): the document is no longer missing.
    case = service.store.case(case_id)
    assert case is not None and case.status == "suspended"
    stored = service.store.findings(case_id=case_id)
    assert stored and "missing-document:police_report" not in {f.finding_id for f in stored}
    assert {f.judged_version for f in stored} == {case.version} and {f.checked_at for f in stored} == {clock.now}


def test_refresh_removes_the_findings_an_earlier_casework_kept_on_an_ended_case(watched) -> None:  # type: ignore[no-untyped-def]
    service, watcher, clock = watched
    case_id = service.start_case("insuranceClaim", {"amount": 60000, "previousClaims": 4}, actor="ann").case_id
    flags = [f.to_dict() for f in watcher.refresh(case_id) or []]
    service.execute(case_id, commands.TerminateCase(actor="ann", reason="withdrawn"))
    # As casework before 2026-12-07 stored them: its rules still judged a case that had ended.
    ended = service.store.case(case_id)
    assert ended is not None and ended.status == "terminated"
    assert service.store.replace_findings(case_id, ended.version, flags, clock.now, case_type="insurance_claim")
    assert service.store.findings(case_id=case_id)

    assert watcher.refresh_open() == (0, 0)  # no open case to judge
    assert service.store.findings(case_id=case_id) == []


def test_a_dismissed_finding_is_not_offered_again_unless_it_gets_worse(watched) -> None:  # type: ignore[no-untyped-def]
    from casework.insight.rules import Flag, feedback_command

    service, _, clock = watched
    case_id = service.start_case("insuranceClaim", {"amount": 12500}, actor="ann").case_id
    shown = {f.finding_id: f for f in service.store.findings(case_id=case_id)}
    police = shown["missing-document:police_report"]
    finding = Flag(police.finding_id, police.message, police.severity, police.reason, police.source)
    service.execute(case_id, feedback_command(finding, accepted=False, actor="ann", reason="sent by post"))
    assert "missing-document:police_report" not in _ids(service.store, case_id)
    # the next change of the case judges it again: the dismissal still holds
    clock.now = T0 + HOUR
    service.execute(case_id, commands.SetVariables(variables={"claimant": "Ann Smith"}, actor="bob"))
    after = _ids(service.store, case_id)
    assert "missing-document:police_report" not in after and "missing-field:policyNumber" in after
    # a later acceptance lifts the dismissal (of it more severe: at the severity dismissed, it is answered)
    with pytest.raises(CommandRejected, match="already dismissed at severity warning by ann"):
        service.execute(case_id, feedback_command(finding, accepted=True, actor="bob"))
    worse = Flag(police.finding_id, police.message, "critical", police.reason, police.source)
    service.execute(case_id, feedback_command(worse, accepted=True, actor="ann"))
    assert "missing-document:police_report" in _ids(service.store, case_id)
    # dismissed while it was milder (info) than it is now (warning): it got worse, so it is offered again
    milder = Flag(police.finding_id, police.message, "info", police.reason, police.source)
    service.execute(case_id, feedback_command(milder, accepted=False, actor="ann", reason="not now"))
    assert "missing-document:police_report" in _ids(service.store, case_id)


def test_suggest_flags_shows_since_when_on_the_organisations_clock(watched, db_url: str) -> None:  # type: ignore[no-untyped-def]
    service, _, _ = watched
    case_id = service.start_case("insuranceClaim", {"amount": 500}, actor="ann").case_id  # judged at T0, 09:00 UTC
    runner = CliRunner()
    args = ["suggest", "flags", "--db", db_url, "--case", case_id]
    tokyo = runner.invoke(app, args, env={"COLUMNS": "250", "CASEWORK_TIMEZONE": "Asia/Tokyo"})
    assert tokyo.exit_code == 0, tokyo.output
    assert "2026-03-01 18:00 JST" in tokyo.stdout and "09:00" not in tokyo.stdout
    utc = runner.invoke(app, args, env={"COLUMNS": "250", "CASEWORK_TIMEZONE": "UTC"})
    assert "2026-03-01 09:00 UTC" in utc.stdout
    unknown = runner.invoke(app, args, env={"CASEWORK_TIMEZONE": "Mars/Olympus"})
    assert unknown.exit_code != 0 and "Mars/Olympus" in unknown.output


def test_a_watcher_without_a_model_does_not_load_the_model_libraries() -> None:
    # `casework demo` judges its open claims with a case type alone: LightGBM's import is a second it does not need.
    import subprocess
    import sys

    code = ("import sys; from casework.insight.watch import FindingsWatcher; "
            "FindingsWatcher(None, []); print('lightgbm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_late_mark_of_an_older_judgement_leaves_newer_findings_as_they_are(watched) -> None:  # type: ignore[no-untyped-def]
    # `refresh_open` writes its marks (findings judged again, found as stored) after judging every case: a change
    # judged meanwhile may have written the case's rows at a later version, which a mark must not take back.
    service, _, clock = watched
    case_id = service.start_case("insuranceClaim", {"amount": 500}, actor="ann").case_id
    clock.now = T0 + HOUR
    service.execute(case_id, commands.SetVariables(variables={"claimant": "Ann Smith"}, actor="ann"))
    stored = service.store.findings(case_id=case_id)
    version = service.store.case(case_id).version  # type: ignore[union-attr]
    assert stored and {f.judged_version for f in stored} == {version}
    service.store.mark_judged([(case_id, version - 1, T0 + 2 * HOUR)])
    assert service.store.findings(case_id=case_id) == stored
