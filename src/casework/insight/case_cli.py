"""`casework suggest case CASE_ID`: next-best actions and flags for a stored, open case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from casework.display import finding_block, plain
from casework.store import DEFAULT_DB, organisation_zone
from casework.store.cli import DbOption


def suggest_case(
    case_id: Annotated[str, typer.Argument(help="id of a stored case")],
    model: Annotated[
        Path | None, typer.Option(help="model file from `casework suggest train` (next-best actions, SLA risk)")
    ] = None,
    case_type: Annotated[
        str | None, typer.Option(help="a bundled case type name (e.g. insurance_claim) or a case type TOML file")
    ] = None,
    k: Annotated[int, typer.Option(min=1, help="how many next actions")] = 3,
    min_probability: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="leave out next actions less likely than this")
    ] = 0.01,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Suggest what to do next on a case, with reasons, and flag what looks wrong. People decide; nothing is changed."""
    from casework.engine.answers import answer_of
    from casework.insight.advisor import PathProbability, RemainingSeconds, next_best_actions
    from casework.insight.case_documents import stored_values
    from casework.insight.casetype import CaseTypeError, UnknownCaseType, load_error_line, named_case_type
    from casework.insight.configured import CASE_TYPES_ENV, MODEL_ENV, ConfigurationError, load_configured
    from casework.insight.flags import assess, plan_step_names
    from casework.insight.modelfile import InsightModel, ModelFileError
    from casework.insight.nba import probability_text
    from casework.insight.rules import dismissed_findings
    from casework.insight.watch import stored_documents
    from casework.service import CaseService
    from casework.service.errors import InvalidInput, NotFound
    from casework.store.cli import open_store, stored_clock_text

    configured = None
    if model is None and case_type is None:
        try:
            configured = load_configured()
        except ConfigurationError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        if configured is None:
            raise typer.BadParameter(f"give --model, --case-type or both (or set {CASE_TYPES_ENV} and {MODEL_ENV})")
    zone = organisation_zone()
    console = Console()
    try:
        insight = InsightModel.load(model) if model is not None else None
    except ModelFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    kind = None
    if case_type is not None:
        try:
            kind = named_case_type(case_type)
        except (CaseTypeError, UnknownCaseType, OSError) as exc:
            typer.echo(f"error: case type: {load_error_line(exc)}", err=True)
            raise typer.Exit(2) from exc
    with open_store(db, read_only="suggest case") as store:
        row = store.case(case_id)
        if row is None:
            typer.echo(f"error: no case {case_id}", err=True)
            raise typer.Exit(2)
        service = CaseService(store)
        try:
            state = service.state(case_id)
            _, definition = service.definition(row.definition_key, row.definition_version)
        except (NotFound, InvalidInput) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        documents = stored_documents(store, case_id)
        # who performed each step: a model that learned from performers needs them
        events = store.events(case_id)
        if configured is not None:
            # the installation's case type for this case's definition, and its model where it was trained on it
            kind, insight = configured.for_definition(definition.key), configured.model_for(definition.key)
            if kind is None and insight is None:
                typer.echo(f"error: {CASE_TYPES_ENV} has no case type for definition {definition.key!r}"
                           + (f", and {MODEL_ENV} was trained on another" if configured.model is not None else "")
                           + ": give --case-type or --model", err=True)
                raise typer.Exit(2)
        if kind is not None and kind.definition != definition.key:
            # Its rules, fields and documents describe another process: every finding would be noise.
            typer.echo(f"error: case type {kind.key!r} describes definition {kind.definition!r}; case {case_id} is of "
                       f"definition {definition.key!r}", err=True)
            raise typer.Exit(2)
        # what the case's documents say about its data (stored texts only: nothing is read from the blobs)
        extracted = stored_values(store, case_id, kind) if kind is not None else None
    if insight is not None and (other := insight.other_definition(definition.key)) is not None:
        typer.echo(f"error: {model}: {other}", err=True)
        raise typer.Exit(2)
    if insight is not None:
        if not plan_step_names(definition) & set(insight.next_action.encoding.activities):
            typer.echo(f"warning: the model knows none of the steps of definition {definition.key!r}: it was trained "
                       "on another process, or on a log that names its steps differently", err=True)
        actions = next_best_actions(
            insight.next_action, definition, state, k=k, model_version=insight.version, events=events, zone=zone,
            min_probability=min_probability
        )
        table = Table(title=plain(f"next best actions for {case_id} (model {insight.version})"), title_justify="left")
        for column in ("activity", "probability", "do", "why"):
            table.add_column(column)
        for action in actions:
            why = action.reason + (f" ({action.note})" if action.note else "")
            table.add_row(*map(plain, (action.activity, probability_text(action.probability), action.action.shown(),
                                       why)))
        if actions:
            console.print(table)
        elif state.ended:
            console.print(f"no suggestions: the case is {state.status}")
        else:
            console.print(f"no suggestions: no next step is at least {probability_text(min_probability)} likely "
                          "(--min-probability)")
    if kind is not None:
        findings = assess(
            kind,
            definition,
            state,
            documents,
            dt.datetime.now(dt.UTC),
            next_action_model=PathProbability(insight.next_action, insight.version) if insight else None,
            remaining_model=RemainingSeconds(insight.remaining_time, zone, insight.version) if insight else None,
            dismissed=dismissed_findings(events),
            extracted=extracted,
        )
        console.print(plain(f"flags and suggestions ({kind.label})"))
        if not findings:
            console.print("nothing to flag")
        for finding in findings:
            # One already accepted is answered (accepting it again is refused): say so where its action would be.
            answer = answer_of(state, finding.to_dict())
            do = finding.action.shown() if finding.action else ""
            if answer is not None and answer[0]:
                do = f"accepted by {answer[2]}, {stored_clock_text(answer[1], zone)}" + (f" ({do})" if do else "")
            console.print(finding_block(finding.severity, finding.kind, finding.id, finding.message, finding.reason,
                                        do))
