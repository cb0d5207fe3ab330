from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from casework.demo import demo_definition, demo_model_names
from casework.demo.walkthrough import run_walkthrough


def test_demo_models_import() -> None:
    assert "insurance_claim.cmmn" in demo_model_names()
    assert demo_definition().key == "insuranceClaim"


def test_walkthrough_completes_the_claim_and_shows_the_trail() -> None:
    out = io.StringIO()
    state = run_walkthrough(Console(file=out, width=200), start=dt.datetime(2026, 5, 4, 8, 0, tzinfo=dt.UTC))
    text = out.getvalue()
    assert state.status == "completed"
    names = {i.name: i for i in state.items.values()}
    assert names["Call the workshop"].state == "completed" and names["Call the workshop"].owner == "bob"
    assert names["Expert opinion"].state == "completed"
    assert names["Collect documents"].owner == "bob"
    assert "'Decide claim' waits for its entry criterion:" in text
    assert "repair quote is missing" in text and "add_task" in text
