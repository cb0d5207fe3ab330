"""Claims that the stored demo leaves open, each at another point of its life, so that a newcomer's inbox, queues
and decision support have something to show and act on: the walked claim ends closed.

Their ids are fixed and their times lie a fixed distance before the `now` they are stored at, so the same `now`
stores the same claims; a claim already in the database is left as it is (what someone did on it stays), so
running the demo again adds none twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from casework.engine import commands

if TYPE_CHECKING:
    from casework.insight.rules import Finding
    from casework.service import CaseService

CASE_TYPE = "insurance_claim"  # the bundled case type that describes the demo model
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)

# (when, relative to `now`; what happens): a document is ("attach", name, text), anything else an engine command.
Step = tuple[dt.timedelta, "commands.Command | tuple[str, str, str]"]


@dataclass(frozen=True)
class OpenClaim:
    case_id: str
    summary: str  # where it stands, as the demo prints it
    variables: dict[str, Any]
    opened_ago: dt.timedelta
    opened_by: str
    reason: str
    steps: tuple[Step, ...]


def _form(policy: str, claimant: str, amount: str, incident: str) -> tuple[str, str, str]:
    text = (f"Claim form\nPolicy number: {policy}\nClaimant: {claimant}\nClaimed amount: EUR {amount}\n"
            f"Date of the incident: {incident}\n")
    return ("attach", "claim_form.txt", text)


OPEN_CLAIMS: tuple[OpenClaim, ...] = (
    OpenClaim(
        "claim-2001",
        "just opened: Register claim waits in the claims-office queue",
        {"amount": 1800, "approved": False, "policyNumber": "MC-204518", "claimant": "Lena Vos",
         "incidentDate": "2025-03-02"},
        2 * HOUR, "intake-api", "web form",
        ((2 * HOUR, _form("MC-204518", "Lena Vos", "1,800", "2025-03-02")),),
    ),
    OpenClaim(
        "claim-2002",
        "in assessment: a fraud check for the fraud-team, and the police report is missing",
        {"amount": 18000, "approved": False, "policyNumber": "MC-377120", "claimant": "Omar Haddad",
         "incidentDate": "2025-02-27"},
        3 * DAY, "ann", "phone call from claimant",
        (
            (3 * DAY, _form("MC-377120", "Omar Haddad", "18,000", "2025-02-27")),
            (3 * DAY - HOUR, commands.CompleteItem(item="Register claim", actor="ann")),
            (3 * DAY - 2 * HOUR, commands.Reassign(item="Assess damage", to="sam", actor="ann",
                                                   reason="Sam has the adjuster's caseload this week")),
            (3 * DAY - 2 * HOUR, commands.Reassign(item="Collect documents", to="bob", actor="ann",
                                                   reason="Bob knows the workshop")),
            (2 * DAY, ("attach", "repair_estimate.txt",
                       "Repair estimate\nGarage Noord\nAmount claimed: EUR 18,000\n")),
        ),
    ),
    OpenClaim(
        "claim-2003",
        "in assessment for twelve days: the damage assessment is still open",
        {"amount": 6400, "approved": False, "policyNumber": "MC-118342", "claimant": "Pieter Smit",
         "incidentDate": "2025-02-18"},
        12 * DAY, "ann", "e-mail from claimant",
        (
            (12 * DAY, _form("MC-118342", "Pieter Smit", "6,400", "2025-02-18")),
            (12 * DAY - HOUR, commands.CompleteItem(item="Register claim", actor="ann")),
            (12 * DAY - 2 * HOUR, commands.Reassign(item="Assess damage", to="bob", actor="ann")),
            (11 * DAY, ("attach", "repair_estimate.txt",
                        "Repair estimate\nAutoservice Zuid\nAmount claimed: EUR 6,400\n")),
            (10 * DAY, commands.CompleteItem(item="Collect documents", actor="ann")),
        ),
    ),
    OpenClaim(
        "claim-2004",
        "waiting for a decision: Sam's decision was due two days ago",
        {"amount": 4200, "approved": False, "policyNumber": "MC-290017", "claimant": "Sara Jansen",
         "incidentDate": "2025-02-20"},
        9 * DAY, "ann", "phone call from claimant",
        (
            (9 * DAY, _form("MC-290017", "Sara Jansen", "4,200", "2025-02-20")),
            (9 * DAY - HOUR, commands.CompleteItem(item="Register claim", actor="ann")),
            (8 * DAY, ("attach", "repair_estimate.txt",
                       "Repair estimate\nGarage Noord\nAmount claimed: EUR 4,200\n")),
            (7 * DAY, commands.CompleteItem(item="Assess damage", actor="sam")),
            (6 * DAY, commands.CompleteItem(item="Collect documents", actor="bob")),
            (6 * DAY, commands.Reassign(item="Decide claim", to="sam", actor="ann", reason="Sam assessed it")),
            (5 * DAY, commands.SetDue(item="Decide claim", due="P3D", actor="ann",
                                      reason="the claimant asked for an answer this week")),
        ),
    ),
)


def store_open_claims(service: CaseService, key: str, now: dt.datetime) -> list[tuple[OpenClaim, bool]]:
    """Store the open claims of definition `key` through the service, their times relative to `now`; returns
    each with whether it was stored now (False: the database had it already, and it is left as it is)."""
    out: list[tuple[OpenClaim, bool]] = []
    for claim in OPEN_CLAIMS:
        if service.store.case_head(claim.case_id) is not None:
            out.append((claim, False))
            continue
        service.start_case(key, claim.variables, actor=claim.opened_by, reason=claim.reason, case_id=claim.case_id,
                           now=now - claim.opened_ago)
        for ago, step in claim.steps:
            at = now - ago
            if isinstance(step, tuple):
                _, name, text = step
                service.add_document(claim.case_id, name, text.encode(), media_type="text/plain",
                                     actor=claim.opened_by, now=at)
            else:
                service.execute(claim.case_id, step, at)
        out.append((claim, True))
    return out


def judge(service: CaseService, case_ids: Sequence[str], now: dt.datetime) -> dict[str, list[Finding]]:
    """Judge the claims with the bundled case type and store the findings, as `suggest refresh` would, so that
    `suggest flags` lists them and `suggest accept|dismiss --finding` knows their case type."""
    from casework.insight.casetype import bundled_case_type
    from casework.insight.watch import FindingsWatcher

    watcher = FindingsWatcher(service, [bundled_case_type(CASE_TYPE)])
    return {case_id: watcher.refresh(case_id, now) or [] for case_id in case_ids}


@dataclass(frozen=True)
class Decision:
    """A decision the tour has a person take on a finding of an open claim."""

    case_id: str
    finding: str
    action: str  # the kind of action the finding offers while the decision is still open
    person: str
    reason: str = ""


# Ann asks for the missing police report (the finding then points at the task it added, so it is not offered for
# accepting again); Bob dismisses the follow-up call: the workshop's quote is in.
ACCEPT = Decision("claim-2002", "missing-document:police_report", "request_document", "ann")
DISMISS = Decision("claim-2003", "rule:workshop-follow-up", "add_task", "bob", "the workshop sent its quote yesterday")


def offered(findings: Mapping[str, Sequence[Finding]], decision: Decision) -> bool:
    """Whether the claim still offers the finding with that action (nobody has acted on it yet)."""
    return any(f.id == decision.finding and f.action is not None and f.action.kind == decision.action
               for f in findings.get(decision.case_id, ()))
