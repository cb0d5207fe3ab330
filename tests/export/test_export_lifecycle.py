"""What the exports say happened to each piece of work: the XES standard lifecycle transition, and who performed it.

The same event reads the same in XES, OCEL and CSV; each test reads all three back from a real store."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from casework.engine import commands
from casework.export import export
from casework.export.activities import ENGINE
from casework.insight.flags import case_path, case_performers
from casework.paths import shared_dir
from casework.service import CaseService

XES = "{http://www.xes-standard.org/}"
STAGE_MODEL = (
    '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"><case id="m"><casePlanModel id="plan">'
    '<planItem id="pS" name="Review" definitionRef="S"/><stage id="S" name="Review">'
    '<planItem id="pA" name="Check" definitionRef="A"/>'
    '<planItem id="pB" name="Sign" definitionRef="B"><itemControl><manualActivationRule/></itemControl></planItem>'
    '<planItem id="pC" name="Call" definitionRef="C"/>'
    '<planItem id="pD" name="Note" definitionRef="D"><itemControl><manualActivationRule/></itemControl></planItem>'
    '<humanTask id="A"/><humanTask id="B"/><humanTask id="C"/><humanTask id="D"/></stage></casePlanModel></case>'
    "</definitions>"
)
MILESTONE_MODEL = (
    '<definitions xmlns="http://www.omg.org/spec/CMMN/20151109/MODEL"><case id="ms"><casePlanModel id="plan">'
    '<planItem id="pA" name="Check" definitionRef="A"/><planItem id="pW" name="Wait" definitionRef="W"/>'
    '<planItem id="pM" name="Checked" definitionRef="M"><entryCriterion id="e" sentryRef="s"/></planItem>'
    '<sentry id="s"><planItemOnPart id="o" sourceRef="pA"><standardEvent>complete</standardEvent></planItemOnPart>'
    '</sentry><humanTask id="A"/><humanTask id="W"/><milestone id="M" name="Checked"/></casePlanModel></case>'
    "</definitions>"
)


def xes_events(svc: CaseService, tmp_path: Path) -> list[dict[str, str]]:
    export(svc.store, "xes", tmp_path / "log.xes")
    return [{a.get("key", ""): a.get("value", "") for a in event}
            for event in ET.parse(tmp_path / "log.xes").getroot().iter(f"{XES}event")]


def ocel_events(svc: CaseService, tmp_path: Path) -> list[tuple[str, dict[str, str]]]:
    export(svc.store, "ocel", tmp_path / "log.json")
    doc = json.loads((tmp_path / "log.json").read_text(encoding="utf-8"))
    return [(e["type"], {a["name"]: a["value"] for a in e["attributes"]}) for e in doc["events"]]


def csv_rows(svc: CaseService, tmp_path: Path) -> list[tuple[str, str]]:
    export(svc.store, "csv", tmp_path / "log.csv")
    with (tmp_path / "log.csv").open(encoding="utf-8") as fh:
        return [(r["activity"], r["resource"]) for r in csv.DictReader(fh)]


def test_skipping_work_under_way_is_an_abort_and_skipping_work_not_started_a_manual_skip(
    svc: CaseService, tmp_path: Path
) -> None:
    svc.deploy(STAGE_MODEL)
    case_id = svc.start_case("m", actor="ann").case_id
    # Check and Call started by themselves; Sign and Note wait to be started by hand.
    svc.execute(case_id, commands.SkipItem(item="Check", actor="ann", reason="done by phone"))
    svc.execute(case_id, commands.SkipItem(item="Sign", actor="ann", reason="not needed"))
    # Held with their stage: Call had started, Note had not; a suspended item's state cannot tell which.
    svc.execute(case_id, commands.SuspendItem(item="Review", actor="bob"))
    svc.execute(case_id, commands.SkipItem(item="Call", actor="bob"))
    svc.execute(case_id, commands.SkipItem(item="Note", actor="bob"))

    skips = {e["concept:name"]: e["lifecycle:transition"] for e in xes_events(svc, tmp_path)
             if e["concept:name"] in ("Check", "Sign", "Call", "Note")
             and e["lifecycle:transition"] not in ("start", "schedule", "suspend")}
    assert skips == {"Check": "ate_abort", "Sign": "manualskip", "Call": "ate_abort", "Note": "manualskip"}
    ocel = {name: a["lifecycle"] for name, a in ocel_events(svc, tmp_path)
            if a["lifecycle"] in ("ate_abort", "manualskip")}
    assert ocel == skips
    # CSV holds completions only: work skipped was not done, started or not.
    assert not {"Check", "Sign", "Call", "Note"} & {a for a, _ in csv_rows(svc, tmp_path)}


def test_work_the_engine_started_is_credited_to_the_engine_and_says_whose_command_caused_it(
    svc: CaseService, tmp_path: Path
) -> None:
    root = shared_dir()
    if root is None:
        pytest.skip("shared corpus not available")
    svc.deploy((root / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
    case_id = svc.start_case("claim", {"amount": 10}, actor="intake").case_id
    # Ann's completion starts Request documents and Assess damage (a sentry); Bob's and Carol's start Close claim.
    svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="ann"))
    svc.execute(case_id, commands.CompleteItem(item="Request documents", actor="bob"))
    svc.execute(case_id, commands.CompleteItem(item="Assess damage", actor="carol"))
    svc.execute(case_id, commands.CompleteItem(item="Close claim", actor="dave"))

    xes = [(e["concept:name"], e["lifecycle:transition"], e.get("org:resource"), e.get("caused_by"))
           for e in xes_events(svc, tmp_path)]
    assert ("Assess damage", "start", ENGINE, "ann") in xes
    assert ("Close claim", "start", ENGINE, "carol") in xes
    assert ("Review claim", "start", ENGINE, "intake") in xes
    # Handover of work, as a process-mining tool reads it from org:resource: from person to person (through the
    # engine's steps), nobody to themselves through work the engine started.
    performers = [who for _, _, who, _ in xes if who != ENGINE]
    assert performers == ["ann", "bob", "carol", "dave"]
    assert all(caused is not None for _, _, who, caused in xes if who == ENGINE)
    ocel = [(t, a["lifecycle"], a.get("resource"), a.get("caused_by")) for t, a in ocel_events(svc, tmp_path)]
    assert ocel == xes
    assert csv_rows(svc, tmp_path) == [("Review claim", "ann"), ("Request documents", "bob"),
                                       ("Assess damage", "carol"), ("Close claim", "dave")]
    # The audit trail keeps whose command it was.
    events = svc.store.events(case_id)
    starts = [e.actor for e in events if e.type == "item_transition" and e.payload["transition"] == "start"]
    assert starts[-3:] == ["ann", "ann", "carol"]


def test_a_milestone_the_engine_reached_is_in_the_csv_as_the_engines(svc: CaseService, tmp_path: Path) -> None:
    svc.deploy(MILESTONE_MODEL)
    case_id = svc.start_case("ms", actor="intake").case_id
    svc.execute(case_id, commands.CompleteItem(item="Check", actor="ann"))
    assert csv_rows(svc, tmp_path) == [("Check", "ann"), ("Checked", ENGINE)]
    completes = {e["concept:name"]: (e.get("org:resource"), e.get("caused_by")) for e in xes_events(svc, tmp_path)
                 if e["lifecycle:transition"] == "complete"}
    assert completes == {"Check": ("ann", None), "Checked": (ENGINE, "ann")}
    # Who handled each step of the live path, for the next-best-action model: nobody reached the milestone.
    state = svc.state(case_id)
    assert case_path(state)[0] == ["Check", "Checked"]
    assert case_performers(state, svc.store.events(case_id)) == ["ann", None]
