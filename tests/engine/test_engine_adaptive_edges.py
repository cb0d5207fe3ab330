"""Adaptive commands at their edges: what each one checks before it changes the plan, and what it leaves alone."""

from __future__ import annotations

import json

import pytest
from helpers_engine import DrivenCase, model_of, on_part

from casework.engine import CaseState, CommandRejected, commands, plannable

TASK = '<planItem id="pa" name="Review" definitionRef="a"/><humanTask id="a" name="Review"/>'


def test_an_item_added_unless_open_may_share_the_name_of_the_running_case_plan() -> None:
    # The case plan is open for as long as the case runs: counting it would refuse every such name for good.
    case = DrivenCase(model_of(TASK))
    case.run(commands.AddItem(kind="humanTask", name="Plan", actor="ann", unless_open=True))
    assert case.states("Plan") == ["active", "active"]
    assert case.replays()


def test_an_added_task_with_a_due_time_is_due_then() -> None:
    case = DrivenCase(model_of(TASK))
    case.run(commands.AddItem(kind="humanTask", name="Call GP", due="P2D", actor="ann"))
    (added,) = [i for i in case.state.items.values() if i.name == "Call GP"]
    assert added.due == "2026-03-04T09:00:00Z"
    assert case.replays()


def test_the_event_of_an_added_item_names_the_plan_item_it_added() -> None:
    case = DrivenCase(model_of(TASK))
    events = case.run(commands.AddItem(kind="milestone", name="Signed off", actor="ann"))
    (added,) = [i for i in case.state.items.values() if i.name == "Signed off"]
    assert [(e.type, e.payload["item"]) for e in events if e.type == "add_milestone"] == [("add_milestone",
                                                                                            added.def_id)]


def test_a_milestone_that_was_reached_cannot_be_made_to_wait() -> None:
    # A milestone never starts: reached, it has no start time, and is still past waiting for anything.
    case = DrivenCase(model_of(
        TASK + '<planItem id="pm" name="Reviewed" definitionRef="ms"><entryCriterion id="ec" sentryRef="s"/></planItem>'
        f'<sentry id="s">{on_part("pa")}</sentry><milestone id="ms" name="Reviewed"/>'
        '<planItem id="pb" name="Audit" definitionRef="b"/><humanTask id="b" name="Audit"/>'))
    case.run(commands.CompleteItem(item="Review", actor="ann"))
    assert case.states("Reviewed") == ["completed"]
    version = case.state.version
    with pytest.raises(CommandRejected, match="'Reviewed' has already started"):
        case.run(commands.AddDependency(item="Reviewed", after=("Audit",), actor="ann"))
    assert case.state.version == version


STAGED = (TASK + '<planItem id="ps" name="Checks" definitionRef="st"/>'
          '<stage id="st" name="Checks" autoComplete="true"><planItem id="pc" name="Check ID" definitionRef="c"/>'
          '<humanTask id="c" name="Check ID"/></stage>')


def test_nothing_is_added_to_a_stage_that_has_ended() -> None:
    case = DrivenCase(model_of(STAGED))
    case.run(commands.CompleteItem(item="Check ID", actor="ann"))
    assert case.states("Checks") == ["completed"]
    version = case.state.version
    with pytest.raises(CommandRejected, match="stage 'Checks' has ended"):
        case.run(commands.AddItem(kind="humanTask", name="Check address", stage="Checks", actor="ann"))
    assert case.state.version == version
    assert case.states("Check address") == []


def test_the_event_of_an_added_dependency_names_the_item_and_what_it_waits_for() -> None:
    case = DrivenCase(model_of(TASK))
    case.run(commands.AddItem(kind="humanTask", name="Sign", manual=True, actor="ann"))
    events = case.run(commands.AddDependency(item="Sign", after=("Review",), actor="ann"))
    assert [(e.payload["item"], e.payload["after"]) for e in events if e.type == "add_dependency"] == [
        ("adhoc1", ["pa"])]


TABLE = (TASK + '<planningTable id="tbl"><discretionaryItem id="d" name="Audit" definitionRef="t2"/></planningTable>'
         '<humanTask id="t2" name="Audit"/>')


def test_the_plan_event_names_the_item_planned_and_the_stage_it_is_planned_into() -> None:
    case = DrivenCase(model_of(TABLE))
    events = case.run(commands.PlanItem(item="Audit", actor="ann"))
    planned = [e.payload for e in events if e.type == "plan"]
    assert planned == [{"item": "d", "name": "Audit", "stage": case.state.root}]
    assert case.states("Audit") == ["active"]


def test_reassigning_to_no_one_unassigns_the_task() -> None:
    case = DrivenCase(model_of(TASK))
    case.run(commands.AddItem(kind="humanTask", name="Call GP", assignee="bob", actor="ann"))
    (task,) = [i for i in case.state.items.values() if i.name == "Call GP"]
    assert task.owner == "bob"
    events = case.run(commands.Reassign(item="Call GP", to=None, actor="ann"))
    assert [e.payload for e in events if e.type == "reassign"] == [
        {"item": task.id, "name": "Call GP", "from": "bob", "to": None}]
    assert task.owner is None
    with pytest.raises(CommandRejected, match="'Call GP' has no owner"):
        case.run(commands.Reassign(item="Call GP", to=None, actor="ann"))
    assert case.replays()


@pytest.mark.parametrize("to", ["", "  "])
def test_reassigning_to_a_blank_user_is_refused_and_keeps_the_owner(to: str) -> None:
    case = DrivenCase(model_of(TASK))
    case.run(commands.AddItem(kind="humanTask", name="Call GP", assignee="bob", actor="ann"))
    version = case.state.version
    with pytest.raises(CommandRejected, match="reassign needs a user"):
        case.run(commands.Reassign(item="Call GP", to=to, actor="ann"))
    assert case.state.version == version
    assert [i.owner for i in case.state.items.values() if i.name == "Call GP"] == ["bob"]


@pytest.mark.parametrize(("user", "role"), [("zoe", " "), (" ", "Auditor"), ("", "")])
def test_a_participant_without_a_user_or_a_role_is_refused(user: str, role: str) -> None:
    case = DrivenCase(model_of(TASK))
    version = case.state.version
    with pytest.raises(CommandRejected, match="a participant needs a user and a role"):
        case.run(commands.AddParticipant(user=user, role=role, actor="ann"))
    assert case.state.version == version
    assert case.state.participants == {}


def test_a_dependency_half_heard_is_still_heard_in_full_after_the_case_is_stored_and_loaded() -> None:
    # What a waiting item heard is kept by the criterion's id, which must survive the JSON a store keeps it in.
    definition = model_of(TASK + '<planItem id="pb" name="Audit" definitionRef="b"/><humanTask id="b" name="Audit"/>'
                          '<planItem id="ps" name="Closing" definitionRef="st"><itemControl><manualActivationRule/>'
                          '</itemControl></planItem><stage id="st" name="Closing">'
                          '<planItem id="px" name="Sign" definitionRef="x"/><humanTask id="x" name="Sign"/></stage>')
    case = DrivenCase(definition)
    case.run(commands.AddDependency(item="Sign", after=("Review", "Audit"), actor="ann"))
    case.run(commands.StartItem(item="Closing", actor="ann"))
    case.run(commands.CompleteItem(item="Review", actor="ann"))
    assert case.states("Sign") == ["available"]
    case.state = CaseState.from_dict(json.loads(json.dumps(case.state.to_dict())))
    case.run(commands.CompleteItem(item="Audit", actor="ann"))
    assert case.states("Sign") == ["active"]


MANUAL_SIGN = ('<planItem id="{id}" name="Sign" definitionRef="x"><itemControl><manualActivationRule/></itemControl>'
               '</planItem><humanTask id="x" name="Sign"/>')


def test_a_plan_item_id_is_read_before_an_instance_id_that_looks_the_same() -> None:
    # Plan item "i2" is Sign; instance i2 is Review (the case plan is i1).
    case = DrivenCase(model_of(TASK + MANUAL_SIGN.format(id="i2")))
    assert [(i.id, i.name) for i in case.state.items.values()][1:] == [("i2", "Review"), ("i3", "Sign")]
    case.run(commands.AddDependency(item="i2", after=("Review",), actor="ann"))
    assert case.state.overlay[-1]["item"] == "i2"
    with pytest.raises(CommandRejected, match="'Sign' waits for Review to complete"):
        case.run(commands.StartItem(item="Sign", actor="ann"))


def test_a_removed_item_is_no_longer_found_by_its_plan_item_id() -> None:
    case = DrivenCase(model_of(TASK + MANUAL_SIGN.format(id="px")))
    case.run(commands.RemoveItem(item="Sign", actor="ann"))
    version = case.state.version
    with pytest.raises(CommandRejected, match="no item 'px' in this case's plan"):
        case.run(commands.AddDependency(item="px", after=("Review",), actor="ann"))
    assert case.state.version == version


def test_an_item_released_from_one_dependency_keeps_what_its_criterion_heard() -> None:
    # Archive waits for Review by its model; Sign and Audit are added. What it heard of Review and Sign (which never
    # come again) outlives the release from Audit, and with nothing left to wait for it starts.
    definition = model_of(TASK + MANUAL_SIGN.format(id="pc") +
                          '<planItem id="pb" name="Audit" definitionRef="b"><itemControl><manualActivationRule/>'
                          '</itemControl></planItem><humanTask id="b" name="Audit"/>'
                          '<planItem id="px" name="Archive" definitionRef="y"><entryCriterion id="ec" sentryRef="s"/>'
                          f'</planItem><sentry id="s">{on_part("pa")}</sentry><humanTask id="y" name="Archive"/>')
    case = DrivenCase(definition)
    case.run(commands.AddDependency(item="Archive", after=("Audit", "Sign"), actor="ann"))
    case.run(commands.CompleteItem(item="Review", actor="ann"))
    case.run(commands.StartItem(item="Sign", actor="ann"))
    case.run(commands.CompleteItem(item="Sign", actor="ann"))
    assert case.states("Archive") == ["available"]
    case.run(commands.RemoveItem(item="Audit", actor="ann"))
    assert case.states("Archive") == ["active"]
    assert case.replays()


def test_removing_an_item_releases_only_what_was_made_to_wait_for_it_at_run_time() -> None:
    # Later waits for Sign by its model; Archive was made to wait for Sign at run time, File and Later for Review.
    def manual(pid: str, name: str, extra: str = "") -> str:
        return (f'<planItem id="{pid}" name="{name}" definitionRef="d{pid}">{extra}<itemControl><manualActivationRule/>'
                f'</itemControl></planItem><humanTask id="d{pid}" name="{name}"/>')
    definition = model_of(TASK + MANUAL_SIGN.format(id="pc") + manual("px", "Archive") + manual("pf", "File")
                          + manual("pl", "Later", '<entryCriterion id="ec" sentryRef="s"/>')
                          + f'<sentry id="s">{on_part("pc")}</sentry>')
    case = DrivenCase(definition)
    case.run(commands.AddDependency(item="Archive", after=("Sign",), actor="ann"))
    case.run(commands.AddDependency(item="File", after=("Review",), actor="ann"))
    case.run(commands.AddDependency(item="Later", after=("Review",), actor="ann"))
    events = case.run(commands.RemoveItem(item="Sign", actor="ann"))
    assert [e.payload.get("released") for e in events if e.type == "remove"] == [[{"item": "px", "name": "Archive"}]]


def test_skipping_a_suspended_milestone_says_what_to_resume_first() -> None:
    case = DrivenCase(model_of(
        TASK + '<planItem id="pm" name="Paid" definitionRef="mp"><entryCriterion id="e1" sentryRef="s1"/></planItem>'
        f'<sentry id="s1">{on_part("pa")}</sentry>'
        '<milestone id="mp" name="Paid"/>'
        '<planItem id="ps" name="Checks" definitionRef="st"/><stage id="st" name="Checks">'
        '<planItem id="pn" name="Checked" definitionRef="n"><entryCriterion id="e2" sentryRef="s2"/></planItem>'
        f'<sentry id="s2">{on_part("pc")}</sentry>'
        '<milestone id="n" name="Checked"/>'
        '<planItem id="pc" name="Check ID" definitionRef="c"/><humanTask id="c" name="Check ID"/></stage>'))
    case.run(commands.SuspendItem(item="Checks", actor="ann"))
    case.run(commands.SuspendItem(item="Paid", actor="ann"))
    version = case.state.version
    with pytest.raises(CommandRejected, match=r"while suspended; resume its stage first$"):
        case.run(commands.SkipItem(item="Checked", actor="ann"))
    with pytest.raises(CommandRejected, match=r"while suspended; resume it first$"):
        case.run(commands.SkipItem(item="Paid", actor="ann"))
    assert case.state.version == version


def test_the_events_of_skip_and_set_due_name_what_they_changed() -> None:
    # A projection reads the item a set_due names (None: the case's own deadline) to know which row changed.
    case = DrivenCase(model_of(TASK))
    (review,) = [i for i in case.state.items.values() if i.name == "Review"]
    due = [e.payload for e in case.run(commands.SetDue(item=None, due="P1D", actor="ann"))]
    due += [e.payload for e in case.run(commands.SetDue(item="Review", due="P2D", actor="ann"))]
    assert due == [{"item": None, "due": "2026-03-03T09:00:00Z"},
                   {"item": review.id, "name": "Review", "due": "2026-03-04T09:00:00Z"}]
    skipped = [e.payload for e in case.run(commands.SkipItem(item="Review", actor="ann")) if e.type == "skip"]
    assert skipped == [{"item": review.id, "name": "Review", "from": "active"}]


def test_an_item_of_a_task_s_planning_table_goes_into_the_stage_where_that_task_is_active() -> None:
    # Two rounds run at once; Talk is done in the first and active in the second, so Note is planned there.
    rep = '<itemControl><repetitionRule><condition>${true}</condition></repetitionRule></itemControl>'
    case = DrivenCase(model_of(
        f'<planItem id="po" name="Open" definitionRef="o">{rep}</planItem><humanTask id="o" name="Open"/>'
        f'<planItem id="ps" name="Round" definitionRef="st">{rep}<entryCriterion id="e" sentryRef="s"/></planItem>'
        f'<sentry id="s">{on_part("po")}</sentry><stage id="st" name="Round">'
        '<planItem id="pt" name="Talk" definitionRef="t"/><planItem id="pw" name="Write" definitionRef="w"/>'
        '<humanTask id="t" name="Talk"><planningTable id="tt"><discretionaryItem id="d" name="Note" definitionRef="n"/>'
        '</planningTable></humanTask><humanTask id="w" name="Write"/><humanTask id="n" name="Note"/></stage>'))
    for _ in range(2):
        (opening,) = [i.id for i in case.state.items.values() if i.name == "Open" and i.state == "active"]
        case.run(commands.CompleteItem(item=opening, actor="ann"))
    first, second = [i.id for i in case.state.items.values() if i.name == "Round" and i.state == "active"]
    (talk,) = [i.id for i in case.state.items.values() if i.name == "Talk" and i.parent == first]
    case.run(commands.CompleteItem(item=talk, actor="ann"))
    assert case.states("Round")[:2] == ["active", "active"]
    case.run(commands.PlanItem(item="Note", actor="ann"))
    assert [i.parent for i in case.state.items.values() if i.name == "Note"] == [second]
    assert case.replays()


def test_removing_a_stage_releases_nothing_that_leaves_with_it() -> None:
    case = DrivenCase(model_of(
        TASK + '<planItem id="ps" name="Checks" definitionRef="st"><itemControl><manualActivationRule/></itemControl>'
        '</planItem><stage id="st" name="Checks"><planItem id="pc" name="Check ID" definitionRef="c"/>'
        '<planItem id="pd" name="Check address" definitionRef="d"/>'
        '<humanTask id="c" name="Check ID"/><humanTask id="d" name="Check address"/></stage>'))
    case.run(commands.AddDependency(item="Check address", after=("Check ID",), actor="ann"))
    events = case.run(commands.RemoveItem(item="Checks", actor="ann"))
    assert [e.payload for e in events if e.type == "remove"] == [
        {"item": "ps", "name": "Checks", "overlay": {"op": "remove", "item": "ps"}}]
    assert case.states("Checks") == ["terminated"]


def _attach(size: int, previous_version: int = 0, document_id: str = "d1",
            media_type: str = "application/pdf") -> commands.AttachDocument:
    return commands.AttachDocument(name="scan.pdf", sha256="0" * 64, size=size, media_type=media_type,
                                   document_id=document_id, previous_version=previous_version, actor="ann")


@pytest.mark.parametrize(("size", "previous_version"), [(-1, 0), (10, -1)])
def test_a_document_of_negative_size_or_previous_version_is_refused(size: int, previous_version: int) -> None:
    case = DrivenCase(model_of(TASK))
    version = case.state.version
    with pytest.raises(CommandRejected, match="size and previous version cannot be negative"):
        case.run(_attach(size, previous_version))
    assert case.state.version == version


def test_an_empty_document_can_be_attached() -> None:
    case = DrivenCase(model_of(TASK))
    events = case.run(_attach(0))
    assert [e.payload for e in events] == [{"id": "d1", "name": "scan.pdf", "version": 1, "sha256": "0" * 64,
                                            "size": 0, "media_type": "application/pdf"}]


@pytest.mark.parametrize(("document_id", "media_type"), [("", "application/pdf"), ("d1", ""), ("", "")])
def test_a_document_without_its_id_or_media_type_is_refused(document_id: str, media_type: str) -> None:
    case = DrivenCase(model_of(TASK))
    version = case.state.version
    with pytest.raises(CommandRejected, match="a document needs its id and media type"):
        case.run(_attach(10, document_id=document_id, media_type=media_type))
    assert case.state.version == version


def test_the_feedback_event_keeps_the_suggestion_it_is_about() -> None:
    case = DrivenCase(model_of(TASK))
    suggestion = {"activity": "Review", "probability": 0.8}
    events = case.run(commands.RecordFeedback(suggestion=suggestion, accepted=True, model_version="m2", actor="ann"))
    assert [(e.payload["suggestion"], e.payload["model_version"]) for e in events] == [(suggestion, "m2")]


def test_an_item_whose_applicability_rule_cannot_be_evaluated_is_not_offered_for_planning() -> None:
    definition = model_of(
        TASK + '<planningTable id="tbl"><discretionaryItem id="d" name="Audit" definitionRef="t2" '
        'applicabilityRuleRefs="r"/><applicabilityRule id="r"><condition>${amount > 10}</condition>'
        '</applicabilityRule></planningTable><humanTask id="t2" name="Audit"/>')
    case = DrivenCase(definition, amount="many")
    assert plannable(definition, case.state) == []
    case.run(commands.SetVariables(variables={"amount": 50}, actor="ann"))
    assert plannable(definition, case.state) == ["Audit"]
