"""A guided walk through one insurance claim: the plan after every step, an ad hoc task, planned discretionary work,
a reassignment, an explanation of what waits, and the audit trail at the end."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from casework.demo import demo_definition
from casework.display import what_happened
from casework.engine import CaseState, Event, commands, execute, explain, plannable
from casework.model import CaseDefinition

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) is loaded only when the demo is stored
    from casework.service import CaseService

# The walk's changes (its steps and the attachment) come one STEP apart; WALK_SPAN runs from its start to its last.
STEP = dt.timedelta(minutes=45)
WALK_SPAN = 16 * STEP

STATE_STYLE = {
    "active": "bold green",
    "enabled": "cyan",
    "available": "dim",
    "completed": "blue",
    "terminated": "red",
    "disabled": "yellow",
}


def plan_table(definition: CaseDefinition, state: CaseState) -> Table:
    table = Table(title=f"case {state.case_id}: {state.status}", title_justify="left", expand=False)
    for column in ("item", "kind", "state", "owner", "due"):
        table.add_column(column)
    depth: dict[str, int] = {}
    for item in state.items.values():
        if item.id == state.root:
            depth[item.id] = -1
            continue
        level = depth.get(item.parent or "", -1) + 1
        depth[item.id] = level
        shown = item.state + (" (skipped)" if item.skipped else "")
        table.add_row(
            "  " * level + item.name,
            item.kind,
            f"[{STATE_STYLE.get(item.state, '')}]{shown}",
            item.owner or "",
            item.due or "",
        )
    return table


def audit_table(events: list[Event], state: CaseState) -> Table:
    table = Table(title="audit trail (every change: who, when, why)", title_justify="left")
    for column in ("#", "time", "actor", "event", "what", "reason"):
        table.add_column(column)
    names = {item.id: item.name for item in state.items.values()}
    for n, event in enumerate(events, start=1):
        table.add_row(str(n), event.at[11:16], event.actor, event.type, what_happened(event.type, event.payload, names),
                      event.reason or "")
    return table


class MemoryDriver:
    """Runs the demo on the engine alone: nothing is stored."""

    def __init__(self, definition: CaseDefinition) -> None:
        self.definition = definition
        self.state = CaseState.create("claim-1001", definition)

    def start(self, command: commands.StartCase, now: dt.datetime) -> list[Event]:
        return self.run(command, now)

    def run(self, command: commands.Command, now: dt.datetime) -> list[Event]:
        return execute(self.definition, self.state, command, now)

    def attach(self, name: str, content: bytes, media_type: str, actor: str, now: dt.datetime) -> list[Event]:
        # Nothing is stored here: the event names the bytes by their digest, as the stored driver's does.
        command = commands.AttachDocument(name=name, sha256=hashlib.sha256(content).hexdigest(), size=len(content),
                                          media_type=media_type, document_id=f"doc-{name}", actor=actor)
        return self.run(command, now)


class StoredDriver:
    """Runs the demo through the case service, so the case and its audit trail land in the database."""

    def __init__(self, service: CaseService, xml: str) -> None:
        self.service = service
        key, _ = service.deploy(xml)
        self.key = key
        self.definition = service.definition(key)[1]
        self.case_id = ""
        self.state = CaseState.create("pending", self.definition)

    def start(self, command: commands.StartCase, now: dt.datetime) -> list[Event]:
        result = self.service.start_case(
            self.key, command.variables, actor=command.actor, reason=command.reason, now=now
        )
        self.case_id = result.case_id
        self.state = self.service.state(self.case_id)
        return result.events

    def run(self, command: commands.Command, now: dt.datetime) -> list[Event]:
        result = self.service.execute(self.case_id, command, now)
        self.state = self.service.state(self.case_id)
        return result.events

    def attach(self, name: str, content: bytes, media_type: str, actor: str, now: dt.datetime) -> list[Event]:
        self.service.add_document(self.case_id, name, content, media_type=media_type, actor=actor, now=now)
        before = self.state.version
        self.state = self.service.state(self.case_id)
        return [Event.from_dict(e.engine_dict()) for e in self.service.store.events(self.case_id, after_seq=before)]


def run_walkthrough(
    console: Console, start: dt.datetime | None = None, driver: MemoryDriver | StoredDriver | None = None
) -> CaseState:
    """Walk the claim from `start` (default: WALK_SPAN before now, so that its last change is now, not hours ahead)."""
    driver = driver or MemoryDriver(demo_definition())
    definition = driver.definition
    now = start or dt.datetime.now(dt.UTC).replace(microsecond=0) - WALK_SPAN
    log: list[Event] = []

    def step(title: str, command: commands.Command) -> None:
        nonlocal now
        now += STEP
        if isinstance(command, commands.StartCase):
            log.extend(driver.start(command, now))
        else:
            log.extend(driver.run(command, now))
        console.rule(f"[bold]{title}")
        console.print(plan_table(definition, driver.state))

    step(
        "Ann opens a claim for 12,500",
        commands.StartCase(
            variables={"amount": 12500, "approved": False}, actor="ann", reason="phone call from claimant"
        ),
    )
    step(
        "Ann brings in Sam as claims adjuster",
        commands.AddParticipant(user="sam", role="Claims adjuster", actor="ann", reason="large claim"),
    )
    step(
        "Ann registers the claim: the assessment starts, with a fraud check because the amount is large",
        commands.CompleteItem(item="Register claim", actor="ann"),
    )
    step(
        "Ann adds a task nobody modelled",
        commands.AddItem(
            kind="humanTask",
            name="Call the workshop",
            stage="Assessment",
            assignee="bob",
            due="P1D",
            actor="ann",
            reason="repair quote is missing",
        ),
    )
    console.print(f"plannable now: {', '.join(plannable(definition, driver.state))}")
    step(
        "Sam plans an expert opinion from the planning table (only a claims adjuster may)",
        commands.PlanItem(item="Expert opinion", actor="sam", reason="damage looks older than stated"),
    )
    now += STEP
    log.extend(driver.attach("police_report.pdf", b"%PDF-1.4 police report PR-2211", "application/pdf",
                             "intake-api", now))
    console.rule("[bold]The police report is attached: its SHA-256 goes into the audit trail")
    step(
        "The police report's number is filed: reviewing it starts by itself",
        commands.SetVariables(variables={"policeReport": {"number": "PR-2211"}}, actor="intake-api"),
    )
    step(
        "Ann hands the documents over to Bob",
        commands.Reassign(item="Collect documents", to="bob", actor="ann", reason="Bob knows the workshop"),
    )
    console.rule("[bold]Why has 'Decide claim' not started?")
    for line in explain(definition, driver.state, "Decide claim"):
        console.print(line)
    for name, who in (
        ("Assess damage", "sam"),
        ("Collect documents", "bob"),
        ("Fraud check", "sam"),
        ("Review police report", "ann"),
        ("Call the workshop", "bob"),
        ("Expert opinion", "sam"),
    ):
        step(f"{who} completes {name}", commands.CompleteItem(item=name, actor=who))
    step(
        "Sam decides: approved",
        commands.CompleteItem(
            item="Decide claim", variables={"approved": True}, actor="sam", reason="covered by the policy"
        ),
    )
    step("Ann pays the claimant", commands.CompleteItem(item="Pay claimant", actor="ann"))
    console.print(audit_table([e for e in log if e.type not in ("memory", "item_created")], driver.state))
    return driver.state
