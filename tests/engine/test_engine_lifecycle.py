"""The CMMN 1.1 lifecycles (§8.4.2) as a case worker meets them: which commands each state takes, and where each
transition leads. Found by mutation testing: each test fails when one entry of `casework.engine.lifecycle` or its
use is changed."""

from __future__ import annotations

import pytest
from helpers_engine import DrivenCase, model_of, on_part

from casework.engine import commands

MANUAL = "<itemControl><manualActivationRule/></itemControl>"
# D waits to be started by hand, W starts at once and B waits for W; each has a milestone reached when it completes.
WAITING = model_of(
    f'<planItem id="pD" name="D" definitionRef="D">{MANUAL}</planItem><planItem id="pW" name="W" definitionRef="W"/>'
    '<planItem id="pB" name="B" definitionRef="B"><entryCriterion sentryRef="sB"/></planItem>'
    f'<sentry id="sB">{on_part("pW")}</sentry><humanTask id="D" name="D"/><humanTask id="W" name="W"/>'
    '<humanTask id="B" name="B"/>'
    + "".join(
        f'<planItem id="pAfter{n}" name="after {n}" definitionRef="After{n}"><entryCriterion sentryRef="after{n}"/>'
        f'</planItem><sentry id="after{n}">{on_part("p" + n)}</sentry><milestone id="After{n}" name="after {n}"/>'
        for n in "DWB"
    )
)


@pytest.mark.parametrize(
    ("command", "state"),
    [
        (commands.TerminateItem(item="D", actor="ann"), "terminated"),
        (commands.SkipItem(item="D", actor="ann"), "completed"),
        (commands.RemoveItem(item="D", actor="ann"), "terminated"),
        (commands.EnableItem(item="D", actor="ann"), "enabled"),
    ],
)
def test_a_disabled_item_is_open_and_not_started(command: commands.Command, state: str) -> None:
    # Disabled is an open state of an item that has not started (CMMN 1.1 table 8.3): it can still be ended, taken
    # out of the plan, enabled again, or given to someone, as an enabled one can.
    case = DrivenCase(WAITING)
    case.run(commands.DisableItem(item="D", actor="ann"))
    case.run(command)
    assert case.states("D") == [state]
    assert case.replays()


def test_a_disabled_item_is_given_its_owner_and_due() -> None:
    case = DrivenCase(WAITING)
    case.run(commands.DisableItem(item="D", actor="ann"))
    case.run(commands.Reassign(item="D", to="bob", actor="ann"))
    case.run(commands.SetDue(item="D", due="2026-04-01", actor="ann"))
    (item,) = (i for i in case.state.items.values() if i.name == "D")
    assert (item.owner, item.due) == ("bob", "2026-04-01T00:00:00Z")


@pytest.mark.parametrize(
    ("item", "before", "state"),
    [
        ("B", [], "available"),
        ("D", [], "enabled"),
        ("D", [commands.DisableItem(item="D", actor="ann")], "disabled"),
        ("W", [], "active"),
        ("W", [commands.SuspendItem(item="W", actor="ann")], "suspended"),
    ],
)
def test_a_task_is_skipped_from_every_open_state_and_what_waits_for_it_goes_on(
    item: str, before: list[commands.Command], state: str
) -> None:
    case = DrivenCase(WAITING)
    for command in before:
        case.run(command)
    assert case.states(item) == [state]
    case.run(commands.SkipItem(item=item, actor="ann", reason="done on paper"))
    # skip raises `complete` (docs/semantics.md, Lifecycles): the milestone waiting for the item is reached.
    assert (case.states(item), case.states(f"after {item}")) == (["completed"], ["completed"])
    assert case.replays()
