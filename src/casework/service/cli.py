"""`casework reproject`: rebuild the inbox rows of cases from their event logs."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from casework.store import DEFAULT_DB
from casework.store.cli import DbOption, open_store


def reproject_cmd(
    db: DbOption = DEFAULT_DB,
    case: Annotated[
        list[str] | None, typer.Option(help="only this case, repeatable (default: every open case)")
    ] = None,
    closed: Annotated[bool, typer.Option("--closed", help="closed cases too, not only open ones")] = False,
) -> None:
    """Rebuild tasks, group queues and participants from the cases' event logs (after an upgrade).

    Run it when a new version derives more from the cases than the old one did (candidate users' task lists, for
    one): the event log is the truth, these rows are derived. It also upgrades an older database's schema."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from casework.service import CaseService, NotFound

    with open_store(db) as store, CaseService(store) as svc:
        if case:
            ids = list(dict.fromkeys(case))
            missing = [cid for cid in ids if store.case_head(cid) is None]
            if missing:  # refuse before rebuilding anything
                typer.echo(f"error: no case {', '.join(missing)}", err=True)
                raise typer.Exit(2)
        else:
            ended = () if closed else ("completed", "terminated")
            ids = [cid for cid, _key, status in store.case_summaries() if status not in ended]
        done = skipped = 0
        with Progress(TextColumn("reprojecting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True), disable=not sys.stderr.isatty()) as progress:
            bar = progress.add_task("cases", total=len(ids))
            for case_id in ids:
                try:
                    rebuilt = svc.reproject(case_id)
                except NotFound as exc:
                    if store.case_head(case_id) is not None:  # the case is there, its definition is not
                        typer.echo(f"error: case {case_id}: {exc}", err=True)
                        raise typer.Exit(2) from exc
                    rebuilt = False  # deleted since it was listed: nothing to rebuild
                done, skipped = (done + 1, skipped) if rebuilt else (done, skipped + 1)
                progress.advance(bar)
    typer.echo(f"reproject: {done} cases rebuilt, {skipped} left as they are (imported from logs)")


def register(app: typer.Typer) -> None:
    app.command("reproject")(reproject_cmd)
