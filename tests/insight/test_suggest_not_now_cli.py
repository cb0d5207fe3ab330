"""`casework suggest case|accept|dismiss` on steps a case cannot take now: an item waiting for its entry criterion, a
log's activity named like an item id, anything while the case is suspended. Shown as what is likely next, with why
not; accepting one is refused up front, with nothing written."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

import pytest
from insight_synth import write_log
from typer.testing import CliRunner

from casework.cli import app
from casework.store import Store

runner = CliRunner()
NOW = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
WIDE = {"COLUMNS": "1000"}  # every column unwrapped, so a cell reads as one line
# What the claims of the log did after Register claim, in these shares: every kind of mapping in one table.
NEXT = {"Decide claim": 30, "i5": 25, "Claimant withdraws": 15, "Claim assessed": 15, "Assess damage": 10,
        "Site visit": 5}
SUSPENDED = ("not now: the case is suspended: resume it (`casework case resume`) to accept; dismissing needs no "
             "resume")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = random.Random(1)
    choices = [name for name, share in NEXT.items() for _ in range(share)]
    rows = []
    for i in range(300):
        start = dt.datetime(2020, 1, 1, 8) + dt.timedelta(hours=6 * i)
        for j, activity in enumerate(("Register claim", rng.choice(choices), "Pay claimant")):
            rows.append((f"c{i}", activity, (start + dt.timedelta(hours=j)).isoformat(), "ann"))
    folder = tmp_path_factory.mktemp("model")
    path = folder / "model.json.gz"
    trained = runner.invoke(app, ["suggest", "train", str(write_log(folder / "log.csv.gz", rows)), "--out", str(path),
                                  "--trained-at", "20260301"])
    assert trained.exit_code == 0, trained.output
    return path



def _cw(*args: str) -> Any:
    return runner.invoke(app, list(args), env=WIDE)


def _suggest(url: str, case_id: str, model: Path, verb: str = "case", *args: str) -> Any:
    return _cw("suggest", verb, case_id, "--db", url, "--model", str(model), "--k", "6", "--min-probability", "0",
               *args)


def _rows(output: str) -> dict[str, str]:
    """Activity -> its "do" cell, from the next-best-action table."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 6 and cells[1] in NEXT:
            rows[cells[1]] = cells[3]
    return rows


def _events(url: str, case_id: str) -> list[Any]:
    with Store.open(url) as store:
        return store.events(case_id)


def _refused(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return str(lines[0])


def test_each_step_is_shown_as_what_the_case_can_do_with_it(claim: tuple[str, str], model: Path) -> None:
    url, case_id = claim
    shown = _suggest(url, case_id, model)
    assert shown.exit_code == 0, shown.output
    assert _rows(shown.stdout) == {
        # It waits for the Claim assessed milestone: not "open: Decide claim".
        "Decide claim": "wait: Decide claim (not now: it waits for its entry criterion: [ecDecide] Claim assessed "
                        "occur: waiting)",
        # Not "add task: i5", which the engine refuses.
        "i5": "no action for: i5 (not now: 'i5' names no item of the case and reads as an item id (i1, i2, ...), so "
              "it cannot be added as a task)",
        "Claimant withdraws": "occur: Claimant withdraws",
        "Claim assessed": "wait: Claim assessed (not now: it waits for its entry criterion: [ecAssessed] Assessment "
                          "complete: waiting)",
        "Assess damage": "open: Assess damage",
        "Site visit": "plan: Site visit",
    }


def test_accepting_a_step_the_case_cannot_take_is_refused_and_dismissing_it_is_not(
    claim: tuple[str, str], model: Path
) -> None:
    url, case_id = claim
    before = len(_events(url, case_id))
    waits = _refused(_suggest(url, case_id, model, "accept", "--activity", "Decide claim", "--as", "bob"))
    assert waits == ("error: nothing recorded: 'Decide claim' cannot be done now, so it cannot be accepted: it waits "
                     "for its entry criterion: [ecDecide] Claim assessed occur: waiting")
    odd = _refused(_suggest(url, case_id, model, "accept", "--activity", "i5", "--as", "bob"))
    assert odd.startswith("error: nothing recorded: 'i5' cannot be done now") and "reads as an item id" in odd
    assert len(_events(url, case_id)) == before
    # "Not this" is an answer to it all the same, counted against the model that offered it.
    dismissed = _suggest(url, case_id, model, "dismiss", "--activity", "i5", "--as", "bob", "--reason", "not a step")
    assert dismissed.exit_code == 0, dismissed.output
    (record,) = _events(url, case_id)[before:]
    assert record.type == "suggestion_dismissed"
    assert record.payload["suggestion"]["action"]["kind"] == "unmapped"
    assert "reads as an item id" in record.payload["suggestion"]["action"]["blocked"]


def test_accepting_a_user_event_raises_it_with_the_record_first(claim: tuple[str, str], model: Path) -> None:
    url, case_id = claim
    before = len(_events(url, case_id))
    result = _suggest(url, case_id, model, "accept", "--activity", "Claimant withdraws", "--as", "bob")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("accepted: occur: Claimant withdraws (")
    added = _events(url, case_id)[before:]
    # The withdrawal ends the case (its exit criterion), which takes no record after it: the record goes first.
    assert added[0].type == "suggestion_accepted" and added[0].actor == "bob"
    assert added[1].type == "item_transition" and added[1].payload["transition"] == "occur"
    with Store.open(url) as store:
        assert store.case(case_id).status == "terminated"  # type: ignore[union-attr]
    verified = _cw("audit", "verify", "--db", url)
    assert verified.exit_code == 0 and " ok" in verified.stdout, verified.output


def test_on_a_suspended_case_what_is_next_is_shown_blocked_and_only_a_dismissal_is_taken(
    claim: tuple[str, str], model: Path
) -> None:
    url, case_id = claim
    suspended = _cw("case", "suspend", case_id, "--db", url, "--as", "ann", "--reason", "claimant abroad")
    assert suspended.exit_code == 0, suspended.output
    shown = _suggest(url, case_id, model, "case", "--case-type", "insurance_claim")
    assert shown.exit_code == 0, shown.output
    rows = _rows(shown.stdout)
    # Mapped as the case stands once resumed (its stage is suspended with it: nothing could be planned as it is).
    assert rows["Site visit"] == f"plan: Site visit ({SUSPENDED})"
    assert rows["Assess damage"] == f"open: Assess damage ({SUSPENDED})"
    assert rows["Claimant withdraws"] == f"occur: Claimant withdraws ({SUSPENDED})"
    assert rows["Decide claim"].startswith("wait: Decide claim (not now: it waits for its entry criterion")
    # The findings' actions too, as `suggest case` judges them and as they are stored for `suggest flags`.
    assert f"request document: claim form ({SUSPENDED})" in " ".join(shown.stdout.split())
    assert _cw("suggest", "refresh", "--db", url, "--case-type", "insurance_claim").exit_code == 0
    flags = _cw("suggest", "flags", "--db", url, "--case", case_id)
    assert f"request document: claim form ({SUSPENDED})" in " ".join(flags.stdout.split()), flags.output
    stored = json.loads(_cw("suggest", "flags", "--db", url, "--case", case_id, "--json").stdout)
    assert {row["action"]["blocked"] for row in stored if row["action"]} == {SUSPENDED.removeprefix("not now: ")}
    before = len(_events(url, case_id))
    hint = f"error: case {case_id} is suspended: resume it first (`casework case resume {case_id} --as NAME --reason "
    accept = _refused(_suggest(url, case_id, model, "accept", "--activity", "Site visit", "--as", "bob"))
    assert accept == hint + "TEXT`), then accept the suggestion (dismissing one needs no resume)"
    finding = _refused(_cw("suggest", "accept", case_id, "--db", url, "--finding", "missing-document:claim_form",
                           "--case-type", "insurance_claim", "--as", "bob"))
    assert finding == hint + "TEXT`), then accept the suggestion (dismissing one needs no resume)"
    assert len(_events(url, case_id)) == before
    # As the "not now" says: a dismissal is taken as the case stands, and changes nothing else.
    dismiss = _cw("suggest", "dismiss", case_id, "--db", url, "--finding", "missing-field:claimant",
                  "--case-type", "insurance_claim", "--as", "bob", "--reason", "known")
    assert dismiss.exit_code == 0 and dismiss.stdout.startswith("dismissed: missing-field:claimant"), dismiss.output
    assert [e.type for e in _events(url, case_id)[before:]] == ["suggestion_dismissed"]
    # Once resumed, the same step is taken.
    assert _cw("case", "resume", case_id, "--db", url, "--as", "ann", "--reason", "back").exit_code == 0
    accepted = _suggest(url, case_id, model, "accept", "--activity", "Site visit", "--as", "bob")
    assert accepted.exit_code == 0 and accepted.stdout.startswith("accepted: plan: Site visit"), accepted.output
