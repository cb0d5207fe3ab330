from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from rich.console import Console

from casework.audit.verify import verify
from casework.demo import demo_definition, demo_model_names, demo_model_xml
from casework.demo.walkthrough import WALK_SPAN, MemoryDriver, StoredDriver, run_walkthrough
from casework.service import CaseService
from casework.store import Store


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
    assert state.documents == {"police_report.pdf": 1} and "police_report.pdf v1, sha256 " in text


def test_the_walk_spans_walk_span_so_that_the_demo_can_end_it_now() -> None:
    start = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)
    state = run_walkthrough(Console(file=io.StringIO()), start=start, driver=MemoryDriver(demo_definition()))
    assert state.status == "completed"  # by its last change
    assert dt.datetime.fromisoformat(state.ended_at or "") == start + WALK_SPAN


def test_walkthrough_through_the_store_leaves_a_verifiable_trail(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'demo.db'}", blob_dir=tmp_path / "blobs") as store:
        service = CaseService(store)
        driver = StoredDriver(service, demo_model_xml("insurance_claim.cmmn"))
        state = run_walkthrough(
            Console(file=io.StringIO()), start=dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC), driver=driver
        )
        assert state.status == "completed"
        report = verify(store)
        assert report.ok and report.cases == 1 and report.events > 40
        assert service.state(driver.case_id).to_dict() == state.to_dict()
        groups = {t.name: t.candidate_groups for t in store.tasks(case_id=driver.case_id, states=("completed",))}
        assert groups["Fraud check"] == ("fraud-team",) and groups["Call the workshop"] == ()
        assert store.tasks(candidate_group="fraud-team") == []  # a closed case leaves every queue
        (report_pdf,) = store.documents(driver.case_id)
        (attached,) = [e for e in store.events(driver.case_id) if e.type == "document_attached"]
        assert (attached.actor, attached.payload["sha256"]) == ("intake-api", report_pdf.sha256)
        assert store.blobs.get(report_pdf.sha256).startswith(b"%PDF")


def test_the_audit_table_names_the_data_a_change_removed_as_well_as_what_it_set() -> None:
    from casework.demo.walkthrough import audit_table
    from casework.engine import CaseState, commands, execute

    definition = demo_definition("insurance_claim.cmmn")
    state = CaseState.create("c1", definition)
    now = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    events = execute(definition, state, commands.StartCase(variables={"amount": 500, "note": "x"}), now)
    events += execute(definition, state, commands.SetVariables(variables={"amount": 700}, remove=("note",)), now)
    out = io.StringIO()
    Console(file=out, width=200).print(audit_table(events, state))
    assert "amount, -note" in out.getvalue()
