"""`casework suggest accept|dismiss CASE_ID`: a person's decision on a suggestion, recorded in the audit trail.

The suggestion is named as `casework suggest case` shows it: a next-best action by its activity (judged again with
the same model, so the record carries that model's version and the probability and reason it shows now), or a flag
or rule's suggestion by its id. It is looked for on the case as it is now: one the case has moved past (a step taken
meanwhile, a document attached, a dismissal by someone else) is no longer offered, and deciding on it is refused.

Accepting runs the suggested action and the record of the acceptance as one command (`NextAction.accept`,
`rules.accept_command`: an engine `Together`), so both are stored in one transaction or neither is; dismissing
records `suggestion_dismissed` with the person's reason.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from casework.service.case_cli import fail
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.cli import ActorOption, DbOption

if TYPE_CHECKING:
    from casework.insight.casetype import CaseType
    from casework.insight.modelfile import InsightModel
    from casework.store import Store

ActivityOption = Annotated[
    str | None,
    typer.Option("--activity", help="a next-best action, by its activity as `suggest case` lists it (needs --model)"),
]
FindingOption = Annotated[
    str | None,
    typer.Option("--finding", help="a flag or rule suggestion, by its id as `suggest case` / `suggest flags` show it"),
]
ModelOption = Annotated[
    Path | None,
    typer.Option(help="the model file `suggest case` used (next-best actions; SLA-risk and unusual-path flags)"),
]
CaseTypeOption = Annotated[
    str | None,
    typer.Option(help="a bundled case type name or a case type TOML file (for --finding; default: the one the "
                      "stored finding was judged with)"),
]
KOption = Annotated[int, typer.Option(min=1, help="how many next actions were offered (as `suggest case --k`)")]
MinProbabilityOption = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="as `suggest case --min-probability`")
]


def suggest_accept(
    case_id: Annotated[str, typer.Argument(help="id of a stored case")],
    actor: ActorOption,
    activity: ActivityOption = None,
    finding: FindingOption = None,
    reason: Annotated[str | None, typer.Option(help="why (optional; recorded with the acceptance)")] = None,
    model: ModelOption = None,
    case_type: CaseTypeOption = None,
    k: KOption = 3,
    min_probability: MinProbabilityOption = 0.01,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Accept a suggestion: carry out its action and record the acceptance, as one change of the case.

    Example: `casework suggest accept CASE_ID --activity "Assess damage" --model model.json.gz --as ann`, or
    `casework suggest accept CASE_ID --finding missing-document:police_report --case-type insurance_claim --as ann`."""
    if reason is not None and not reason.strip():
        reason = None
    _decide(case_id, accepted=True, actor=actor, activity=activity, finding=finding, reason=reason, model=model,
            case_type=case_type, k=k, min_probability=min_probability, db=db)


def suggest_dismiss(
    case_id: Annotated[str, typer.Argument(help="id of a stored case")],
    actor: ActorOption,
    reason: Annotated[str, typer.Option(help="why it does not apply (required; counted in `suggest feedback`)")],
    activity: ActivityOption = None,
    finding: FindingOption = None,
    model: ModelOption = None,
    case_type: CaseTypeOption = None,
    k: KOption = 3,
    min_probability: MinProbabilityOption = 0.01,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Dismiss a suggestion, with the reason why it does not apply: recorded in the audit trail.

    A dismissed flag is not offered again on the case unless it gets more severe. Nothing else on the case
    changes."""
    if not reason.strip():
        fail("a dismissal needs a reason (--reason TEXT)")
    _decide(case_id, accepted=False, actor=actor, activity=activity, finding=finding, reason=reason.strip(),
            model=model, case_type=case_type, k=k, min_probability=min_probability, db=db)



def _decide(
    case_id: str,
    *,
    accepted: bool,
    actor: str,
    activity: str | None,
    finding: str | None,
    reason: str | None,
    model: Path | None,
    case_type: str | None,
    k: int,
    min_probability: float,
    db: str,
) -> None:
    from casework.engine import CommandRejected
    from casework.insight.modelfile import ModelFileError
    from casework.service import CaseService
    from casework.service.errors import Conflict, InvalidInput, NotFound
    from casework.store.cli import open_store, sealable

    if not actor.strip():
        fail("--as needs the name of the person deciding")
    actor = actor.strip()
    if finding is not None:  # an id as pasted from a table keeps its padding, as names given to other commands do
        finding = finding.strip()
        if not finding:
            fail("--finding needs the id of a finding, as `casework suggest case` shows it")
    if (activity is None) == (finding is None):
        fail("name the suggestion: --activity NAME (a next-best action) or --finding ID (a flag), one of them")
    if activity is not None and model is None:
        fail("--activity needs --model: the next-best actions are judged again with the model that offered them")
    zone = organisation_zone()  # an unknown zone stops the command before anything is read or written
    try:
        from casework.insight.modelfile import InsightModel

        insight = InsightModel.load(model) if model is not None else None
    except ModelFileError as exc:
        fail(str(exc))
    kind = case_type_or_exit(case_type) if case_type is not None else None
    now = dt.datetime.now(dt.UTC)
    with open_store(db) as store:
        row = store.case(case_id)
        if row is None:
            fail(f"no case {case_id}")
        sealable(store)
        with CaseService(store, clock=lambda: now) as service:
            try:
                state = service.state(case_id)
                _, definition = service.definition(row.definition_key, row.definition_version)
            except (NotFound, InvalidInput) as exc:
                fail(str(exc))
            if insight is not None and (other := insight.other_definition(definition.key)) is not None:
                fail(f"{model}: {other}")
            if state.ended:
                # It refuses every command, a dismissal included: say why rather than "not offered".
                fail(f"case {case_id} is {state.status}: it takes no more decisions")
            if state.status == "suspended" and accepted:
                # Accepting acts on the plan, which is on hold; a dismissal changes nothing in it, and the engine
                # takes it (`engine.core.taken_while_suspended`): triage goes on while the case waits.
                fail(f"case {case_id} is suspended: resume it first (`casework case resume {case_id} --as NAME "
                      "--reason TEXT`), then accept the suggestion (dismissing one needs no resume)")
            events = store.events(case_id)
            if activity is not None:
                assert insight is not None
                label, command, version = _next_action(
                    activity, accepted=accepted, actor=actor, reason=reason, insight=insight, definition=definition,
                    state=state, events=events, k=k, min_probability=min_probability, zone=zone, case_id=case_id)
            else:
                assert finding is not None
                if kind is None:
                    kind = _stored_case_type(store, case_id, finding, definition.key)
                if kind.definition != definition.key:
                    fail(f"case type {kind.key!r} describes definition {kind.definition!r}; case {case_id} is of "
                          f"definition {definition.key!r}")
                label, command, version = _finding(
                    finding, accepted=accepted, actor=actor, reason=reason, kind=kind, insight=insight,
                    definition=definition, state=state, events=events, store=store, now=now, zone=zone,
                    case_id=case_id)
            if kind is not None:
                keep_findings_current(service, store, case_id, kind, insight, zone)
            try:
                result = service.execute(case_id, command, now)
            except (CommandRejected, Conflict, NotFound, InvalidInput) as exc:
                fail(f"nothing recorded: {' '.join(str(exc).split())}")
    what = "accepted" if accepted else "dismissed"
    from casework.display import events_written, shown

    # The label quotes names from the case and the model (a log's activity names): printed with their control
    # characters escaped, as the tables print them, so that none reaches the terminal.
    written = events_written(result.version, [e.type for e in result.events])
    typer.echo(shown(f"{what}: {label} on case {case_id} by {actor} ({written}"
                     + (f"; model {version}" if version else "") + ")"))


def case_type_or_exit(name: str) -> CaseType:
    from casework.insight.casetype import CaseTypeError, UnknownCaseType, load_error_line, named_case_type

    try:
        return named_case_type(name)
    except (CaseTypeError, UnknownCaseType, OSError) as exc:
        fail(f"case type: {load_error_line(exc)}")


def _stored_case_type(store: Store, case_id: str, finding: str, definition: str) -> CaseType:
    """The case type the stored finding was judged with (`suggest flags` shows it without naming one), else the one
    `CASEWORK_CASE_TYPES` names for the case's definition."""
    from casework.insight.casetype import UnknownCaseType, bundled_case_type
    from casework.insight.configured import ConfigurationError, configured_case_types

    try:
        configured = configured_case_types()
    except ConfigurationError as exc:
        fail(str(exc))
    names = {row.case_type for row in store.findings(case_id=case_id) if row.finding_id == finding and row.case_type}
    if len(names) == 1:
        (name,) = names
        known = [kind for kind in configured if kind.key == name]
        if known:
            return known[0]
        try:
            return bundled_case_type(name)
        except UnknownCaseType:
            fail(f"the finding was judged with case type {name!r}, which is neither a bundled one nor one "
                 "CASEWORK_CASE_TYPES names: give --case-type FILE")
    kind = next((kind for kind in configured if kind.definition == definition), None)
    if kind is None:
        fail(f"--finding {finding} needs --case-type: no stored finding of case {case_id} names its case type")
    return kind


def _next_action(
    activity: str, *, accepted: bool, actor: str, reason: str | None, insight: InsightModel, definition: Any,
    state: Any, events: Any, k: int, min_probability: float, zone: Any, case_id: str,
) -> tuple[str, Any, str]:
    from casework.insight.advisor import next_best_actions
    from casework.insight.nba import probability_text

    offered = next_best_actions(insight.next_action, definition, state, k=k, model_version=insight.version,
                                events=events, zone=zone, min_probability=min_probability)
    matches = [a for a in offered if a.activity == activity]
    if not matches:
        now_offered = ", ".join(repr(a.activity) for a in offered) or "none"
        fail(f"{activity!r} is not a next best action for case {case_id} now (model {insight.version} offers: "
              f"{now_offered}); the case may have moved on: see `casework suggest case`")
    action = matches[0]
    _not_answered(state, action.to_dict())
    if accepted:
        _actionable(action.action)
    command = (action.accept(actor=actor, reason=reason) if accepted
               else action.feedback(accepted=False, actor=actor, reason=reason))
    label = f"{action.action.label} ({probability_text(action.probability)}: {action.reason})"
    return label, command, action.model_version


def _finding(
    ident: str, *, accepted: bool, actor: str, reason: str | None, kind: CaseType, insight: InsightModel | None,
    definition: Any, state: Any, events: Any, store: Store, now: dt.datetime, zone: Any, case_id: str,
) -> tuple[str, Any, str]:
    from casework.insight.advisor import PathProbability, RemainingSeconds
    from casework.insight.case_documents import stored_values
    from casework.insight.flags import assess
    from casework.insight.rules import accept_command, dismissed_findings, feedback_command
    from casework.insight.watch import stored_documents

    findings = assess(
        kind, definition, state, stored_documents(store, case_id), now,
        next_action_model=PathProbability(insight.next_action, insight.version) if insight else None,
        remaining_model=RemainingSeconds(insight.remaining_time, zone, insight.version) if insight else None,
        dismissed=dismissed_findings(events), extracted=stored_values(store, case_id, kind),
    )
    matches = [f for f in findings if f.id == ident]
    if not matches:
        offered = ", ".join(f.id for f in findings) or "none"
        hint = "" if insight is not None else "; SLA-risk and unusual-path flags also need --model"
        fail(f"no finding {ident!r} is offered on case {case_id} now (offered: {offered}){hint}; the case may "
              "have moved on, or someone dismissed it: see `casework suggest case`")
    found = matches[0]
    _not_answered(state, found.to_dict())
    if accepted:
        _actionable(found.action)
        if found.action is not None and found.action.fill is not None:
            _source_intact(store, case_id, found.action.fill.document)
    command = (accept_command(found, actor=actor, reason=reason) if accepted
               else feedback_command(found, accepted=False, actor=actor, reason=reason))
    label = f"{found.id} ({found.message})" + (f", {found.action.label}" if found.action else "")
    return label, command, found.model_version


def _not_answered(state: Any, suggestion: dict[str, Any]) -> None:
    """Refuses a suggestion already answered, naming when and by whom, before its action could be refused for a
    reason that does not say so (the task it adds is there: added when it was accepted). The engine checks it again
    when the decision is recorded: of two people deciding at once, one is refused there."""
    from casework.engine.answers import answered

    refusal = answered(state, suggestion)
    if refusal is not None:
        fail(f"nothing recorded: {refusal}")


def _source_intact(store: Store, case_id: str, name: str) -> None:
    """Refuses to fill a value from a document whose stored bytes no longer match the SHA-256 the case recorded: the
    text it was read from is not evidence of what was attached."""
    from casework.insight.case_documents import latest_versions

    row = latest_versions(store.documents(case_id)).get(name)
    try:
        if row is None:
            raise ValueError("it is no longer attached")
        store.blobs.verify(row.sha256)
    except (OSError, ValueError) as exc:
        fail(f"nothing recorded: the value comes from {name!r}, whose stored bytes cannot be checked ({exc}); run "
             f"`casework audit verify`")


def _actionable(action: Any) -> None:
    """Refuses to accept what the case cannot do now (it is shown as likely next, not as something to do); a
    dismissal stays possible: "not this" is an answer to it as well."""
    from casework.insight.rules import check_actionable

    try:
        check_actionable(action)
    except ValueError as exc:
        fail(f"nothing recorded: {exc}")


def keep_findings_current(
    service: Any, store: Store, case_id: str, kind: CaseType, insight: InsightModel | None, zone: Any
) -> None:
    """Judge the case again once the decision is stored, so `suggest flags` stops listing a dismissed finding; only
    with the model the stored findings came from, since judging without it would drop the flags it raised until
    the next `suggest refresh`."""
    from casework.insight.watch import FindingsWatcher

    stored = {row.model_version for row in store.findings(case_id=case_id)}
    version = insight.version if insight is not None else ""
    if stored <= {version, ""}:
        FindingsWatcher(service, [kind], insight, zone).attach()
