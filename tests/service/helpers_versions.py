"""Two versions of one model for the operator's commands (deploy, definitions, migrate): version 2 drops the
manually started "Site survey" and adds "Decide", so a case that started the survey cannot move and one that did
not can."""

from __future__ import annotations

from pathlib import Path

from casework.engine import commands
from casework.service import CaseService
from casework.store import Store

V1 = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="permit" name="Permit">
    <casePlanModel id="plan" name="Permit">
      <planItem id="piReview" name="Review" definitionRef="review"/>
      <planItem id="piSurvey" name="Site survey" definitionRef="survey">
        <itemControl><manualActivationRule/></itemControl>
      </planItem>
      <humanTask id="review" name="Review"/>
      <humanTask id="survey" name="Site survey"/>
    </casePlanModel>
  </case>
</definitions>
"""
V2 = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="permit" name="Permit">
    <casePlanModel id="plan" name="Permit">
      <planItem id="piReview" name="Review" definitionRef="review"/>
      <planItem id="piDecide" name="Decide" definitionRef="decide"/>
      <humanTask id="review" name="Review"/>
      <humanTask id="decide" name="Decide"/>
    </casePlanModel>
  </case>
</definitions>
"""
OTHER = V1.replace('case id="permit"', 'case id="grant"')


def write_models(folder: Path) -> tuple[Path, Path]:
    (folder / "v1.cmmn").write_text(V1)
    (folder / "v2.cmmn").write_text(V2)
    return folder / "v1.cmmn", folder / "v2.cmmn"


def cases_on_v1(db_url: str, key_file: Path) -> None:
    """Version 1 deployed with three cases: c-waiting (survey not started), c-surveying (survey started), c-done
    (terminated); and a case of another definition, g-1."""
    with Store.open(db_url, audit_key=key_file) as store, CaseService(store) as svc:
        svc.deploy(V1)
        svc.deploy(OTHER)
        svc.start_case("permit", case_id="c-waiting", business_key="P-1")
        svc.start_case("permit", case_id="c-surveying", business_key="P-2")
        svc.execute("c-surveying", commands.StartItem(item="Site survey"))
        svc.start_case("permit", case_id="c-done")
        svc.execute("c-done", commands.TerminateCase())
        svc.start_case("grant", case_id="g-1")
