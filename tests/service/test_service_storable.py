"""Text that one of the databases cannot hold (a NUL, a lone surrogate, more characters than its column) is a bad
request on both, rejected before anything is written; text up to the limits is stored and read back whole."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

import pytest
from helpers_service import assert_stored_state_is_the_log, claim_xml

from casework.engine import CommandRejected, commands
from casework.model import ModelError
from casework.service import CaseService, InvalidInput
from casework.store.storable import ACTOR, NotStorable, check_text


def _snapshot(svc: CaseService, case_id: str) -> tuple[object, ...]:
    store = svc.store
    return (
        store.case_head(case_id),
        [(e.seq, e.type, e.actor, e.hash) for e in store.events(case_id)],
        sorted((t.item_id, t.state, t.owner) for t in store.tasks(case_id=case_id)),
        sorted(store.participants(case_id)),
    )


def _thirteen_groups() -> tuple[str, ...]:
    return tuple(f"group{i:03d}" * 10 for i in range(13))  # 80 characters each, 1,052 joined: over 1,000


BAD_COMMANDS = {
    "NUL in reason": commands.CompleteItem(item="Review claim", actor="bob", reason="done\x00"),
    "surrogate in actor": commands.CompleteItem(item="Review claim", actor="bob\ud800"),
    "surrogate in data": commands.SetVariables(variables={"note": "x\udc80"}, actor="bob"),
    "candidate groups too long together": commands.AddItem(kind="humanTask", name="Check",
                                                           candidate_groups=_thirteen_groups()),
}
# Longer than the store's columns: the engine bounds these fields the same (`commands.text_limit`), and refuses first;
# and a NUL in a name, a control character that no name holds (`casework.names`).
TOO_LONG = {
    "NUL in actor": commands.CompleteItem(item="Review claim", actor="bob\x00"),
    "role with NUL": commands.AddParticipant(user="carol", role="re\x00viewer"),
    "actor too long": commands.CompleteItem(item="Review claim", actor="a" * (ACTOR + 1)),
    "participant too long": commands.AddParticipant(user="u" * 201, role="reviewer"),
    "task name too long": commands.AddItem(kind="humanTask", name="n" * 501),
    "candidate group too long": commands.AddItem(kind="humanTask", name="Check", candidate_groups=("g" * 201,)),
    "assignee too long": commands.Reassign(item="Review claim", to="x" * 201),
}


@pytest.mark.parametrize("what", sorted(BAD_COMMANDS) + sorted(TOO_LONG))
def test_a_command_with_text_the_database_cannot_hold_is_rejected_and_changes_nothing(
    svc: CaseService, what: str
) -> None:
    case_id = svc.start_case("claim", {"amount": 500}).case_id
    svc.execute(case_id, commands.AddParticipant(user="ann", role="adjuster"))  # cached from here on
    before = _snapshot(svc, case_id)
    with pytest.raises(InvalidInput if what in BAD_COMMANDS else CommandRejected):
        svc.execute(case_id, BAD_COMMANDS.get(what) or TOO_LONG[what])
    assert _snapshot(svc, case_id) == before
    # The engine had run the command on the cached copy; it was dropped, so the next command starts from the store.
    svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="bob"))
    assert_stored_state_is_the_log(svc.store, case_id)
    assert [e.actor for e in svc.store.events(case_id)][-1] == "bob"


def test_text_up_to_the_limits_is_stored_whole(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 500}, business_key="k" * 300).case_id
    actor, name = "a" * ACTOR, "Zoë's check 🚀 " + "n" * 485
    svc.execute(case_id, commands.AddItem(kind="humanTask", name=name, actor=actor, reason="r\n" * 2000,
                                          candidate_groups=("g" * 200,), assignee="o" * 200))
    svc.execute(case_id, commands.AddParticipant(user="u" * 200, role="r" * 200))
    last = svc.store.events(case_id)[-1]
    assert last.actor == "system"
    added = [e for e in svc.store.events(case_id) if e.actor == actor]
    assert added and added[0].reason == "r\n" * 2000
    assert name in {t.name for t in svc.store.tasks(case_id=case_id)}
    assert ("u" * 200, "r" * 200) in svc.store.participants(case_id)
    assert_stored_state_is_the_log(svc.store, case_id)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"business_key": "k" * 301},
        {"idempotency_key": "key\x00"},
        {"actor": "a" * 201},
        {"reason": "\ud800"},
        {"variables": {"amount": 500, "note": "\udfff"}},
    ],
    ids=["business key", "idempotency key", "actor", "reason", "data"],
)
def test_starting_a_case_with_text_the_database_cannot_hold_creates_nothing(
    svc: CaseService, kwargs: dict[str, object]
) -> None:
    args: dict[str, object] = {"variables": {"amount": 500}} | kwargs
    with pytest.raises(CommandRejected if "actor" in kwargs else InvalidInput):  # the engine bounds the actor
        svc.start_case("claim", **args)  # type: ignore[arg-type]
    assert svc.store.counts() == (0, 0)


def test_in_a_shared_round_only_the_bad_command_fails(svc: CaseService) -> None:
    cases = [svc.start_case("claim", {"amount": 500}).case_id for _ in range(4)]

    async def main() -> list[object]:
        return await asyncio.gather(
            *(svc.aexecute(c, commands.CompleteItem(item="Review claim", actor="ann")) for c in cases[:3]),
            svc.aexecute(cases[3], commands.CompleteItem(item="Review claim", actor="ann\ud800")),
            return_exceptions=True,
        )

    *good, bad = asyncio.run(main())
    assert isinstance(bad, InvalidInput)
    assert not any(isinstance(g, BaseException) for g in good)
    done = {c: {t.name for t in svc.store.tasks(case_id=c, states=("completed",))} for c in cases}
    assert done == {cases[0]: {"Review claim"}, cases[1]: {"Review claim"}, cases[2]: {"Review claim"}, cases[3]: set()}


def test_a_model_whose_names_do_not_fit_the_store_is_not_deployed(svc: CaseService) -> None:
    long_name = "Review " + "x" * 600
    xml = claim_xml().replace('name="Review claim"', f'name="{long_name}"').replace('id="claim"', 'id="claim2"', 1)
    with pytest.raises(ModelError, match="at most 500"):
        svc.deploy(xml)
    assert svc.store.definition("claim2") is None


@pytest.mark.parametrize(("name", "message"), [
    ("Review\u202e claim", "the name contains U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("Review claim\u200b", "the name contains U+200B (ZERO WIDTH SPACE)"),
    ("Revie\u0301w claim", "is not in Unicode normalisation form C"),
])
def test_a_model_whose_names_do_not_show_or_are_not_in_nfc_is_not_deployed(svc: CaseService, name: str,
                                                                          message: str) -> None:
    # Commands name items as people type them, in NFC: the model's names must be matched by them.
    xml = claim_xml().replace('name="Review claim"', f'name="{name}"').replace('id="claim"', 'id="claim2"', 1)
    with pytest.raises(ModelError, match=re.escape(message)):
        svc.deploy(xml)
    assert svc.store.definition("claim2") is None


def test_a_document_named_beyond_the_limit_is_not_stored(svc: CaseService, tmp_path: Path) -> None:
    case_id = svc.start_case("claim", {"amount": 500}).case_id
    with pytest.raises(NotStorable):
        svc.store.add_document(case_id, "d" * 501, b"bytes", media_type="text/plain", created_by="ann",
                               now=datetime(2026, 1, 1))
    assert svc.store.documents(case_id) == []
    assert not any(p.is_file() for p in (tmp_path / "blobs").rglob("*"))


@pytest.mark.parametrize(
    ("value", "message"),
    [("x" * 11, "11 characters long; at most 10"), ("a\x00b", "NUL"), ("\ud83d", "lone surrogate")],
)
def test_check_text_names_the_problem(value: str, message: str) -> None:
    with pytest.raises(NotStorable, match=message):
        check_text(value, "field", 10)


def test_check_text_lets_any_valid_text_through() -> None:
    check_text("Zoë 🚀\t\n\r\x01 tab", "field", 20)
    check_text("", "field", 0)
