"""Names typed at the command line (`--as`, a task's name and owner, a participant, a business key, a document's
name): one with a character that does not show is refused naming it, and each is kept in NFC, so that it is found
again however it is typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from case_terminal import Stored, claim_store
from case_terminal import cw as _cw
from case_terminal import done as _done
from case_terminal import events as _events
from case_terminal import refused as _refused
from case_terminal import start as _start
from case_terminal import verified as _verified

from casework.store import Store

NFC, NFD = "Jos\u00e9", "Jose\u0301"


@pytest.fixture
def stored(db_url: str, tmp_path: Path) -> Stored:
    return claim_store(db_url, tmp_path)


@pytest.mark.parametrize(("args", "named"), [
    (("add-task", "{case}", "Call back", "--as", "bo\u200bb", "--reason", "r"), "AddItem.actor contains U+200B"),
    (("add-task", "{case}", "Call\u202eback", "--as", "ann", "--reason", "r"), "AddItem.name contains U+202E"),
    (("add-task", "{case}", "Call", "--assignee", "a\x1bnn", "--as", "ann", "--reason", "r"),
     "AddItem.assignee contains U+001B"),
    (("reassign", "{case}", "Register claim", "--to", "b\u2066ob", "--as", "ann"), "Reassign.to contains U+2066"),
    (("add-participant", "{case}", "e\ufeffve", "--role", "adjuster", "--as", "ann", "--reason", "r"),
     "AddParticipant.user contains U+FEFF"),
    (("complete", "{case}", "Register claim", "--as", "ann\u200f"), "CompleteItem.actor contains U+200F"),
])
def test_a_name_with_a_character_that_does_not_show_is_refused_naming_it(
        stored: Stored, args: tuple[str, ...], named: str) -> None:
    case_id = _start(stored)
    line = _refused(stored, case_id, *(a.format(case=case_id) for a in args))
    assert line.startswith(f"error: nothing recorded: {named} (")


def test_a_business_key_with_a_character_that_does_not_show_starts_no_case(stored: Stored) -> None:
    result = _cw(stored, "case", "start", "insuranceClaim", "--as", "ann", "--business-key", "CL-\u202e1001")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: nothing recorded: the business key contains U+202E (RIGHT-TO-LEFT "
                                    "OVERRIDE)")
    with Store.open(stored[0]) as store:
        assert store.counts()[0] == 0


def test_names_typed_in_either_unicode_form_are_one_name(stored: Stored) -> None:
    case_id = _start(stored, "--business-key", f"CL-{NFD}")
    again = _cw(stored, "case", "start", "insuranceClaim", "--as", "bob", "--business-key", f"CL-{NFC}")
    assert again.exit_code == 0 and again.stdout.strip() == case_id, again.output
    (added, *_) = _done(stored, case_id, "add-task", case_id, f"Call {NFD}", "--assignee", NFD, "--as", NFD,
                        "--reason", "r")
    assert (added.actor, added.payload["name"]) == (NFC, f"Call {NFC}")
    # Found by its name typed the other way, and its owner is the one given either way.
    same = _refused(stored, case_id, "reassign", case_id, f"Call {NFC}", "--to", NFC, "--as", "ann")
    assert same == f"error: nothing recorded: 'Call {NFC}' is already assigned to {NFC}"
    # The task's owner, typed in the other form, finds it in the inbox.
    listed = _cw(stored, "tasks", "--owner", NFD, "--json")
    assert listed.exit_code == 0, listed.output
    assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == [f"Call {NFC}"]
    _verified(stored)


def test_a_document_name_typed_in_either_unicode_form_is_one_document(stored: Stored, tmp_path: Path) -> None:
    case_id = _start(stored)
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    for source, name in ((first, "caf\u00e9.txt"), (second, "cafe\u0301.txt")):
        attached = _cw(stored, "case", "attach", case_id, str(source), "--name", name, "--as", "ann")
        assert attached.exit_code == 0, attached.output
    assert [(e.payload["name"], e.payload["version"]) for e in _events(stored, case_id)
            if e.type == "document_attached"] == [("caf\u00e9.txt", 1), ("caf\u00e9.txt", 2)]
    out = _cw(stored, "case", "document", case_id, "cafe\u0301.txt", "-o", "-")
    assert out.exit_code == 0 and out.stdout_bytes == b"two", out.output
    refused = _refused(stored, case_id, "attach", case_id, str(first), "--name", "x\u200by.txt", "--as", "ann")
    assert refused.startswith("error: nothing recorded: the document name contains U+200B (ZERO WIDTH SPACE)")
