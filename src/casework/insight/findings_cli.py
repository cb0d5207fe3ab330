"""`casework suggest flags` (which cases are flagged, from the stored findings) and `casework suggest refresh`
(judge every open case again: what a scheduled job runs, since time alone can raise a flag)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from casework.display import finding_block
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.cli import DbOption, stored_clock_text

if TYPE_CHECKING:
    from casework.store import Store
    from casework.store.findings import FindingRow


def suggest_flags(
    db: DbOption = DEFAULT_DB,
    severity: Annotated[str, typer.Option(help="the least severe to show: info | warning | critical")] = "info",
    case: Annotated[str | None, typer.Option("--case", help="only this case")] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many rows")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of text")] = False,
) -> None:
    """Flags and suggestions on the cases, most severe first, then the longest-standing.

    As last judged: after a change made with decision support watching (`suggest accept|dismiss`, or any change
    when CASEWORK_CASE_TYPES is set), or by the last `casework suggest refresh`. Without that setting, other commands
    (`casework case ...`, `casework migrate`) change a case without judging it again: a finding's "judged" line says
    when its case changed since (or moved to another version of its model), and a last line counts those findings
    (--json: "judged_version", "case_version", "current", "migrated"). A finding someone answered says so where its
    action would be: accepted or dismissed, by whom, when
    (--json: "answer")."""
    from casework.insight.casetype import SEVERITIES  # the expression engine: not for every command's start
    from casework.store.cli import open_store

    if severity not in SEVERITIES:
        raise typer.BadParameter(f"choose one of {', '.join(SEVERITIES)}", param_hint="--severity")
    zone = organisation_zone()  # an unknown zone stops the command before anything is read
    with open_store(db, read_only="suggest flags") as store:
        rows = store.findings(case_id=case, min_severity=severity, limit=limit)
        # a mistyped id read as "nothing is flagged on case ...": a clean case
        unknown = case is not None and not rows and store.case(case) is None
        answers = _answers(store, rows)
    if unknown:
        typer.echo(f"error: no case {case}", err=True)
        raise typer.Exit(2)
    if as_json:
        typer.echo(json.dumps([{**row.__dict__, "raised_at": row.raised_at.isoformat(),
                                "checked_at": row.checked_at.isoformat(), "current": row.current,
                                "answer": answers.get(_key(row))}
                               for row in rows], indent=2))
        return
    if not rows:
        typer.echo("nothing is flagged" + (f" on case {case}" if case else ""))
        return
    console = Console()
    console.print("flags and suggestions on the cases")
    for row in rows:
        action = row.action or {}
        label = str(action.get("label", "")) + (f" (not now: {action['blocked']})" if action.get("blocked") else "")
        answer = answers.get(_key(row))
        if answer is not None:
            # as `suggest case` says it: the finding is answered, and who answered it when
            decided = "accepted" if answer["accepted"] else "dismissed"
            label = (f"{decided} by {answer['by']}, {stored_clock_text(answer['at'], zone)}"
                     + (f" ({label})" if label else ""))
        # on the organisation's clock, labelled, as `casework tasks` shows due times (it showed UTC, unlabelled)
        since = row.raised_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        console.print(finding_block(row.severity, row.kind, row.finding_id, row.message, row.reason, label,
                                    [("since", since), ("judged", _judged(row))], case_id=row.case_id))
    typer.echo(_out_of_date(rows))


def _judged(row: FindingRow) -> str:
    """Whether the case is still as the finding was judged on (the last line says what to run when not)."""
    if row.current:
        return "current"
    if row.case_version is None:
        return "case gone since"
    if row.migrated:
        return f"before migration to version {row.definition_version}"
    return f"case changed since (v{row.judged_version}, now v{row.case_version})"


def _out_of_date(rows: list[FindingRow]) -> str:
    stale = [row for row in rows if not row.current]
    if not stale:
        if len(rows) == 1:
            return "the 1 finding was judged on its case as it is now"
        return f"all {len(rows)} findings were judged on their case as it is now"
    migrated = sum(row.migrated for row in stale)
    kinds = sorted({row.case_type or "CASE_TYPE" for row in stale})  # an older row does not name its case type
    command = "casework suggest refresh " + " ".join(f"--case-type {k}" for k in kinds)
    if any(row.model_version for row in stale):
        command += " --model MODEL"  # the flags a model raised need it again, or they are judged away
    were = "finding was" if len(rows) == 1 else "findings was" if len(stale) == 1 else "findings were"
    their = "its" if len(stale) == 1 else "their"
    return (f"out of date: {len(stale)} of {len(rows)} {were} judged before {their} case last changed"
            + (f" ({migrated} before it was migrated to another version of its model)" if migrated else "")
            + f"; run `{command}` to judge {'it' if len(stale) == 1 else 'them'} again")


def _key(row: FindingRow) -> tuple[str, str, str]:
    return row.case_id, row.finding_id, row.severity


def _answers(store: Store, rows: list[FindingRow]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """How each finding listed was answered, where it was ({"accepted", "by", "at"}), from its case's state: the
    stored findings are the judgement at the case's last change, which can come before a decision (one recorded
    by a service no case type watched, before the next `suggest refresh`), and a finding accepted stays flagged
    while what it found is still so."""
    from casework.engine.answers import answer_of
    from casework.service import CaseService
    from casework.service.errors import Corrupt, InvalidInput, NotFound

    by_case: dict[str, list[FindingRow]] = {}
    for row in rows:
        by_case.setdefault(row.case_id, []).append(row)
    answers: dict[tuple[str, str, str], dict[str, Any]] = {}
    with CaseService(store) as service:
        for case_id, found in by_case.items():
            try:
                state = service.state(case_id)
            except (NotFound, InvalidInput):  # gone, or imported from a log: no answers kept
                continue
            except Corrupt as exc:  # its flags are still worth listing; whether they were answered is not known
                typer.echo(f"warning: {exc}: its findings are listed without their answers", err=True)
                continue
            for row in found:
                answer = answer_of(state, {"kind": row.kind, "id": row.finding_id, "severity": row.severity,
                                           "action": row.action})
                if answer is not None:
                    accepted, at, by = answer
                    answers[_key(row)] = {"accepted": accepted, "by": by, "at": at}
    return answers


def suggest_refresh(
    case_type: Annotated[
        list[str] | None,
        typer.Option("--case-type", help="a bundled case type name or a case type TOML file (repeatable; default: "
                     "those CASEWORK_CASE_TYPES names)"),
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="model file from `casework suggest train` (SLA risk, unusual paths; default: "
                                  "CASEWORK_MODEL, with the configured case types)")
    ] = None,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Judge every open case of these case types again and store what is found.

    Run it on a schedule: an SLA can pass while nobody touches a case. Example: `casework suggest refresh
    --case-type insurance_claim`, or `casework suggest refresh` with CASEWORK_CASE_TYPES set."""
    from sqlalchemy.exc import SQLAlchemyError

    from casework.insight.casetype import CaseTypeError, UnknownCaseType, load_error_line, named_case_type
    from casework.insight.configured import CASE_TYPES_ENV, Configured, load_configured
    from casework.insight.modelfile import InsightModel, ModelFileError
    from casework.service import CaseService
    from casework.store.cli import open_store

    zone = organisation_zone()  # an unknown zone stops the command before it judges anything
    try:
        if case_type:
            kinds = [named_case_type(name) for name in case_type]
            insight = InsightModel.load(model) if model is not None else None
            others = [(kind, why) for kind in kinds if insight and (why := insight.other_definition(kind.definition))]
            if others:  # its SLA risks and unusual paths would be judged on a process it never saw
                kind, why = others[0]
                raise ValueError(f"{model}: {why} (case type {kind.key!r} describes {kind.definition!r})")
            configured = Configured(tuple(kinds), insight)
        elif (loaded := load_configured()) is not None:
            # the installation's: its model judges the cases of the definitions it was trained on, as on each change
            configured = replace(loaded, model=InsightModel.load(model)) if model is not None else loaded
        else:
            raise typer.BadParameter(f"give the case types to judge, or set {CASE_TYPES_ENV}",
                                     param_hint="'--case-type'")
        with open_store(db) as store:
            for kind in configured.case_types:
                # a definition key mistyped in the case type judged none of the cases, every run, without a word
                if (unknown := store.unknown_definition(kind.definition)) is not None:
                    typer.echo(f"warning: case type {kind.key!r} judges nothing here: {unknown}", err=True)
            service = CaseService(store)
            try:
                judged = found = 0
                for watcher in configured.watchers(service, zone):
                    counts = watcher.refresh_open()
                    judged, found = judged + counts[0], found + counts[1]
            finally:
                service.close()
    except (CaseTypeError, UnknownCaseType, OSError, ModelFileError, ValueError) as exc:
        typer.echo(f"error: {load_error_line(exc)}", err=True)
        raise typer.Exit(2) from exc
    except SQLAlchemyError as exc:
        why = str(exc).splitlines()[0]  # the driver's message, without the statement and parameters
        typer.echo(f"error: the database failed while judging the cases: {why}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"refresh: {judged} open cases judged, {found} findings stored")
