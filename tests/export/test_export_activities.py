"""The activities an export shows: derived from a case's events, for cases that workers changed while they ran."""

from __future__ import annotations

import csv
import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

from casework.engine import CaseState, commands, execute
from casework.export import export
from casework.export.activities import ENGINE, activities
from casework.model import load_definition
from casework.service import CaseService
from casework.store import StoredEvent

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
STAGE_MODEL = (
    '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"><case id="m"><casePlanModel id="plan">'
    '<planItem id="pS" name="Review" definitionRef="S"/><stage id="S" name="Review">'
    '<planItem id="pA" name="Check" definitionRef="A"/>'
    '<planItem id="pB" name="Sign" definitionRef="B"><itemControl><manualActivationRule/></itemControl></planItem>'
    '<humanTask id="A"/><humanTask id="B"/></stage></casePlanModel></case></definitions>'
)


def test_suspending_a_stage_shows_as_suspended_work_not_as_suspended_items_that_never_started() -> None:
    definition = load_definition(STAGE_MODEL)
    state = CaseState.create("c1", definition)
    log = []
    for command in (
        commands.StartCase(),
        commands.SuspendItem(item="Review"),  # Check is under way; Sign (enabled) had not started
        commands.ResumeItem(item="Review"),
    ):
        log += execute(definition, state, command, NOW)
    stored = [
        StoredEvent(n, "c1", n, e.type, e.at, e.actor, e.reason, e.payload, "", "") for n, e in enumerate(log, 1)
    ]
    seen = [(a.activity, a.transition) for a in activities(stored) if a.transition in ("suspend", "resume")]
    assert seen == [("Review", "suspend"), ("Check", "suspend"), ("Review", "resume"), ("Check", "resume")]


MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL" targetNamespace="urn:test">
  <case id="claim" name="Claim"><casePlanModel id="plan" name="Review">
    <planItem id="piReview" name="Review" definitionRef="review"/>
    <planItem id="piAssess" name="{assess}" definitionRef="assess"><entryCriterion id="ec" sentryRef="s"/></planItem>
    <sentry id="s"><planItemOnPart id="on" sourceRef="piReview"><standardEvent>complete</standardEvent></planItemOnPart>
    </sentry>
    <humanTask id="review" name="Review"/><humanTask id="assess" name="{assess}"/>
  </casePlanModel></case>
</definitions>"""


def test_an_item_renamed_by_a_migration_is_exported_under_the_name_it_has_since(svc: CaseService,
                                                                              tmp_path: Path) -> None:
    svc.deploy(MODEL.format(assess="Assess"))
    case_id = svc.start_case("claim").case_id
    svc.execute(case_id, commands.CompleteItem(item="Review", actor="ann"))
    key, version = svc.deploy(MODEL.format(assess="Assess damage"))
    svc.execute(case_id, commands.Migrate(definition=svc.definition(key, version)[1], actor="admin", reason="v2"))
    svc.execute(case_id, commands.CompleteItem(item="Assess damage", actor="bob"))
    export(svc.store, "csv", tmp_path / "log.csv")
    with (tmp_path / "log.csv").open() as fh:
        done = [(r["activity"], r["resource"]) for r in csv.DictReader(fh)]
    assert done == [("Review", "ann"), ("Assess damage", "bob")]
    # The same name as the case's task list gives it.
    assert {t.name for t in svc.store.tasks(case_id=case_id)} == {"Review", "Assess damage"}


def test_work_offered_and_then_removed_from_the_plan_is_exported_as_withdrawn(svc: CaseService, tmp_path: Path) -> None:
    svc.deploy(MODEL.format(assess="Assess"))
    case_id = svc.start_case("claim").case_id
    svc.execute(case_id, commands.AddItem(kind="humanTask", name="Call garage", manual=True, actor="ann"))
    svc.execute(case_id, commands.RemoveItem(item="Call garage", actor="bob", reason="quote came by mail"))
    export(svc.store, "xes", tmp_path / "log.xes")
    ns = "{http://www.xes-standard.org/}"
    moves = []
    for event in ET.parse(tmp_path / "log.xes").getroot().iter(f"{ns}event"):
        values = {a.get("key"): a.get("value") for a in event}
        if values["concept:name"] == "Call garage":
            moves.append((values["lifecycle:transition"], values.get("org:resource"), values.get("caused_by")))
    # Offered (enabled: to be started by hand, by the engine when Ann added it), then withdrawn by Bob; not left open
    # in the log.
    assert moves == [("schedule", ENGINE, "ann"), ("withdraw", "bob", None)]
