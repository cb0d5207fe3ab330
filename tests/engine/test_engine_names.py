"""Names a command gives (who acts, whom work goes to, items, documents) are refused with a character that does not
show or that reorders the text, and kept in NFC; events already stored replay as they were written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from casework.engine import CaseState, CommandRejected, Event, commands, execute, replay
from casework.model import CaseDefinition, load_definition

MODEL = Path(__file__).resolve().parents[1] / "conformance" / "models" / "claim.cmmn"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
SHA = "ab" * 32
NFC, NFD = "caf\u00e9", "cafe\u0301"


def _started() -> tuple[CaseDefinition, CaseState]:
    definition = load_definition(MODEL.read_bytes())
    state = CaseState.create("c1", definition)
    execute(definition, state, commands.StartCase(actor="ann"), NOW)
    return definition, state


def _attach(name: str, actor: str = "ann") -> commands.AttachDocument:
    return commands.AttachDocument(name=name, sha256=SHA, size=3, media_type="text/plain", document_id="d1",
                                   actor=actor)


# (command with the bad name in it, the field the refusal names)
def _commands_naming(bad: str) -> list[tuple[commands.Command, str]]:
    return [
        (commands.StartItem(item="Review claim", actor=bad), "StartItem.actor"),
        (commands.CompleteItem(item="Review claim", actor=bad), "CompleteItem.actor"),
        (commands.AddItem(kind="humanTask", name=f"Call {bad}", actor="ann"), "AddItem.name"),
        (commands.AddItem(kind="humanTask", name="Call", assignee=bad, actor="ann"), "AddItem.assignee"),
        (commands.AddItem(kind="humanTask", name="Call", candidate_users=("bob", bad), actor="ann"),
         "AddItem.candidate_users: entry 2"),
        (commands.AddItem(kind="humanTask", name="Call", candidate_groups=(bad,), actor="ann"),
         "AddItem.candidate_groups: entry 1"),
        (commands.Reassign(item="Review claim", to=bad, actor="ann"), "Reassign.to"),
        (commands.AddParticipant(user=bad, role="adjuster", actor="ann"), "AddParticipant.user"),
        (commands.AddParticipant(user="bob", role=bad, actor="ann"), "AddParticipant.role"),
        (_attach(f"report{bad}.pdf"), "AttachDocument.name"),
        (commands.SuspendCase(actor=bad), "SuspendCase.actor"),
    ]


@pytest.mark.parametrize(("char", "named"), [
    ("\u202e", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("\u200b", "U+200B (ZERO WIDTH SPACE)"),
    ("\u200d", "U+200D (ZERO WIDTH JOINER)"),
    ("\u2066", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ("\ufeff", "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
    ("\x1b", "U+001B (a control character)"),
    ("\n", "U+000A (a control character)"),
    ("\x85", "U+0085 (a control character)"),
    ("\x7f", "U+007F (a control character)"),
])
def test_a_name_with_a_character_that_does_not_show_is_refused_naming_it(char: str, named: str) -> None:
    definition, state = _started()
    before = json.dumps(state.to_dict(), sort_keys=True)
    for command, field in _commands_naming(f"bo{char}b"):
        with pytest.raises(CommandRejected) as refused:
            execute(definition, state, command, NOW)
        assert str(refused.value).startswith(f"{field} contains {named}"), (field, str(refused.value))
        assert json.dumps(state.to_dict(), sort_keys=True) == before  # nothing done


def test_a_part_of_together_with_such_a_name_refuses_the_whole() -> None:
    definition, state = _started()
    before = json.dumps(state.to_dict(), sort_keys=True)
    together = commands.Together(commands=(commands.AddItem(kind="humanTask", name="Call", actor="ann"),
                                           commands.CompleteItem(item="Review claim", actor="bo\u200eb")))
    with pytest.raises(CommandRejected, match=r"part 2 of 2 .* CompleteItem.actor contains U\+200E"):
        execute(definition, state, together, NOW)
    assert json.dumps(state.to_dict(), sort_keys=True) == before


def test_free_text_may_run_over_lines_and_a_joiner_that_joins_is_part_of_a_name() -> None:
    definition, state = _started()
    events = execute(definition, state, commands.AddItem(
        kind="humanTask", name="\u0628\u0631\u0631\u0633\u06cc \u067e\u06cc\u0634\u200c\u0646\u0648\u06cc\u0633",
        assignee="\U0001f469\u200d\u2695\ufe0f", description="first line\nsecond line", actor="ann",
        reason="asked by\nthe claimant"), NOW)
    added = events[0]
    assert added.reason == "asked by\nthe claimant"
    assert added.payload["name"] == "\u0628\u0631\u0631\u0633\u06cc \u067e\u06cc\u0634\u200c\u0646\u0648\u06cc\u0633"
    assert added.payload["overlay"]["def"]["assignee"] == "\U0001f469\u200d\u2695\ufe0f"
    assert added.payload["overlay"]["def"]["description"] == "first line\nsecond line"


def test_names_are_kept_in_nfc_however_they_are_typed() -> None:
    definition, state = _started()
    added = execute(definition, state, commands.AddItem(kind="humanTask", name=f"Call {NFD}", assignee=f"Jos{NFD[3:]}",
                                                        candidate_users=(NFD,), actor=f"Ren{NFD[3:]}"), NOW)
    assert added[0].actor == "Ren\u00e9"
    assert added[0].payload["name"] == f"Call {NFC}"
    assert added[0].payload["overlay"]["def"]["assignee"] == "Jos\u00e9"
    assert added[0].payload["overlay"]["def"]["candidate_users"] == [NFC]
    # The item is found again by its name typed either way.
    execute(definition, state, commands.Reassign(item=f"Call {NFD}", to="bob", actor="ann"), NOW)
    execute(definition, state, commands.Reassign(item=f"Call {NFC}", to=NFD, actor="ann"), NOW)
    assert [i.owner for i in state.items.values() if i.name == f"Call {NFC}"] == [NFC]
    # A participant added as one spelling is the same person as the other.
    execute(definition, state, commands.AddParticipant(user=NFD, role="adjuster", actor="ann"), NOW)
    with pytest.raises(CommandRejected, match="already takes part"):
        execute(definition, state, commands.AddParticipant(user=NFC, role="adjuster", actor="ann"), NOW)
    assert state.participants == {NFC: ["adjuster"]}


def test_a_document_attached_under_either_spelling_is_the_next_version_of_one_name() -> None:
    definition, state = _started()
    first = execute(definition, state, _attach(NFC), NOW)
    second = execute(definition, state, _attach(NFD), NOW)
    assert [(e.payload["name"], e.payload["version"]) for e in (*first, *second)] == [(NFC, 1), (NFC, 2)]
    assert state.documents == {NFC: 2}


def test_variable_names_are_identifiers_kept_as_written() -> None:
    definition, state = _started()
    execute(definition, state, commands.SetVariables(variables={NFD: 1}, actor="ann"), NOW)
    execute(definition, state, commands.SetVariables(variables={}, remove=(NFD,), actor="ann"), NOW)
    assert NFD not in state.variables
    with pytest.raises(CommandRejected, match=r"SetVariables.remove: entry 1 contains U\+200B"):
        execute(definition, state, commands.SetVariables(variables={}, remove=("a\u200bb",), actor="ann"), NOW)


def _stored(type_: str, actor: str, payload: dict[str, Any]) -> Event:
    return Event(type_, "2026-03-02T09:00:00Z", actor, None, payload)


def test_events_stored_with_such_names_replay_as_they_were_written() -> None:
    definition = load_definition(MODEL.read_bytes())
    # Events of a case written before names were checked: an actor with a zero-width space, a document in NFD, a
    # participant with a right-to-left override.
    events = list(_log(definition))
    events.append(_stored("document_attached", "bo\u200bb", {"id": "d1", "name": NFD, "version": 1, "sha256": SHA,
                                                             "size": 3, "media_type": "text/plain"}))
    events.append(_stored("add_participant", "ann", {"user": "bo\u202eb", "role": "adjuster"}))
    replayed = replay(definition, "c1", events)
    assert replayed.documents == {NFD: 1}
    assert replayed.participants == {"bo\u202eb": ["adjuster"]}
    # ... and the case goes on: new names are checked, the old ones stay as they were.
    execute(definition, replayed, _attach(NFC), NOW)
    assert replayed.documents == {NFD: 1, NFC: 1}


def _log(definition: CaseDefinition) -> list[Event]:
    state = CaseState.create("c1", definition)
    return execute(definition, state, commands.StartCase(actor="ann"), NOW)


def test_the_whitespace_around_a_name_is_not_kept() -> None:
    definition, state = _started()
    # A line break pasted after a name goes with it; one inside it is refused. A blank actor is no actor.
    added = execute(definition, state, commands.AddItem(kind="humanTask", name=" Call\n", assignee="bob\r\n",
                                                        actor=" ann\n"), NOW)
    assert (added[0].actor, added[0].payload["name"], added[0].payload["overlay"]["def"]["assignee"]) == (
        "ann", "Call", "bob")
    with pytest.raises(CommandRejected, match="a command needs an actor"):
        execute(definition, state, commands.SuspendCase(actor=" \t "), NOW)
    with pytest.raises(CommandRejected, match=r"SuspendCase.actor contains U\+000A"):
        execute(definition, state, commands.SuspendCase(actor="an\nn"), NOW)
