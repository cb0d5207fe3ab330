"""`casework suggest ...`: train, evaluate and report the next-best-action and remaining-time models."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from casework.insight.eventlog import VARIANTS, Case, LogFormatError, read_log, repeated_events
from casework.logfile import duplicates_note
from casework.paths import shared_dir
from casework.store import DEFAULT_DB
from casework.store.cli import DbOption

if TYPE_CHECKING:
    from casework.insight.evaluate import LogResult

# The model modules pull in LightGBM (and with it scikit-learn and scipy): imported inside the commands that train
# or evaluate, so that every other `casework` command starts quickly.

suggest_app = typer.Typer(
    no_args_is_help=True,
    help="Decision support: next-best actions learned from closed cases, flags from case types, fields read from "
    "documents, similar cases, and people's answers to them.",
)

LOG_NAMES = ("helpdesk", "tax_helpdesk", "bpic12", "bpic12_wc", "sepsis", "bpic13_inc")


def _err(message: str) -> None:
    typer.echo(message, err=True)


@contextmanager
def _readable_log() -> Iterator[None]:
    """A log that cannot be read, or is too small to evaluate, ends the command with where and why."""
    from casework.insight.evaluate import NothingToScore

    try:
        yield
    except (LogFormatError, NothingToScore) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(2) from None


@suggest_app.command()
def evaluate(
    log: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="event log, CSV or gzip CSV")],
    variant: Annotated[str, typer.Option(help="noeoc | eoc | tax")] = "noeoc",
) -> None:
    """Train on the first 2/3 of the cases (by first event) and score the rest (shared/logs/README.md)."""
    if variant not in VARIANTS:
        raise typer.BadParameter(f"variant must be one of {', '.join(VARIANTS)}", param_hint="--variant")
    from casework.insight.evaluate import evaluate_log

    with _readable_log():
        result = evaluate_log(log, variants=(variant,), baselines=False, remaining=False, log=_err)
    scores = result.model[variant]
    typer.echo(f"top1: {scores.top1:.4f}")
    typer.echo(f"top3: {scores.top3:.4f}")
    typer.echo(f"train_s: {result.train_s:.1f}")
    typer.echo(f"predict_ms_p50: {result.predict_ms_p50:.3f}")


def _logs_dir(logs_dir: Path | None) -> Path:
    if logs_dir is not None:
        return logs_dir
    shared = shared_dir()
    if shared is None:
        env = os.environ.get("CASEWORK_SHARED")
        if env:  # it was set, so "set CASEWORK_SHARED" would not tell what is wrong
            _err(f"error: CASEWORK_SHARED={env} is not a folder: point it at the shared data (with logs/ inside), "
                 "or pass --logs-dir")
        else:
            _err("error: no shared folder found (a `shared` folder beside this checkout): set CASEWORK_SHARED or "
                 "pass --logs-dir")
        raise typer.Exit(2)
    return shared / "logs"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _render(results: list[LogResult], console: Console) -> None:
    nba = Table(title="Next activity: top-1 / top-3 accuracy (%) on the last 1/3 of cases")
    for col in (
        "log",
        "variant",
        "prefixes",
        "model top1",
        "model top3",
        "last-act top1",
        "last-act top3",
        "n-gram top1",
        "n-gram top3",
    ):
        nba.add_column(col, justify="left" if col in ("log", "variant") else "right")
    for r in results:
        for v, s in r.model.items():
            la, ng = r.last_activity.get(v), r.ngram.get(v)
            nba.add_row(
                r.name,
                v,
                str(s.prefixes),
                _pct(s.top1),
                _pct(s.top3),
                _pct(la.top1 if la else None),
                _pct(la.top3 if la else None),
                _pct(ng.top1 if ng else None),
                _pct(ng.top3 if ng else None),
            )
        nba.add_section()
    console.print(nba)
    per_log = Table(title="Cost and remaining time (MAE in days, test prefixes 1..n-1)")
    for col in (
        "log",
        "cases train/test",
        "train s",
        "predict ms p50",
        "remaining MAE",
        "baseline MAE",
        "median baseline MAE",
        "remaining train s",
    ):
        per_log.add_column(col, justify="left" if col == "log" else "right")
    for r in results:
        per_log.add_row(
            r.name,
            f"{r.train_cases}/{r.test_cases}",
            f"{r.train_s:.1f}",
            f"{r.predict_ms_p50:.3f}",
            "–" if r.remaining_mae_days is None else f"{r.remaining_mae_days:.2f}",
            "–" if r.remaining_baseline_mae_days is None else f"{r.remaining_baseline_mae_days:.2f}",
            "–" if r.remaining_median_baseline_mae_days is None else f"{r.remaining_median_baseline_mae_days:.2f}",
            "–" if r.remaining_train_s is None else f"{r.remaining_train_s:.1f}",
        )
    console.print(per_log)
    console.print(
        "last-act = most frequent successor of the last activity; n-gram = the back-off n-gram alone (order and "
        "smoothing chosen on validation); model = blend with gradient-boosted trees, chosen on validation. "
        "Baseline MAE = mean remaining time after the last activity (train); median baseline = the same with the "
        "median. predict ms = one prefix, noeoc."
    )


@suggest_app.command()
def report(
    as_json: Annotated[bool, typer.Option("--json", help="print the results as JSON instead of tables")] = False,
    logs_dir: Annotated[Path | None, typer.Option(
        help="folder of the logs (default: logs/ in $CASEWORK_SHARED, or in ../shared beside the checkout)")] = None,
    only: Annotated[list[str] | None, typer.Option("--log", help="evaluate only this log (repeatable)")] = None,
) -> None:
    """Evaluate every shared log in the three variants, beside the baselines, with cost and remaining-time MAE."""
    from casework.insight.evaluate import evaluate_log

    folder = _logs_dir(logs_dir)
    if not folder.is_dir():
        _err(f"error: no folder {folder} (pass --logs-dir, or set CASEWORK_SHARED)")
        raise typer.Exit(2)
    wanted = only or LOG_NAMES
    present = [name for name in wanted if (folder / f"{name}.csv.gz").exists()]
    if not present:  # one line, not a "skipping" line for each log first
        _err(f"error: no log to evaluate in {folder} (none of {', '.join(f'{n}.csv.gz' for n in wanted)})")
        raise typer.Exit(2)
    results = []
    for name in wanted:
        path = folder / f"{name}.csv.gz"
        if name not in present:
            _err(f"skipping {name}: {path} not found")
            continue
        with _readable_log():
            results.append(evaluate_log(path, variants=VARIANTS, latency_variant="noeoc", log=_err))
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        # wide enough for the whole table when the output goes to a file or a pipe (e.g. into an issue note)
        console = Console()
        _render(results, console if console.is_terminal else Console(width=150))


@suggest_app.command()
def train(
    out: Annotated[Path, typer.Option("--out", help="model file to write (gzip JSON)")],
    log: Annotated[Path | None, typer.Argument(exists=True, dir_okay=False, help="event log, CSV or gzip CSV")] = None,
    definition: Annotated[str | None, typer.Option(
        "--definition", metavar="KEY", help="train on the store's closed cases of this definition key instead of a log "
        "(every version; engine cases and imported logs alike)")] = None,
    db: DbOption = DEFAULT_DB,
    trained_at: Annotated[str | None, typer.Option(
        help="ISO 8601 date or time for the version, e.g. 20260301T090000Z (default: now, UTC)")] = None,
) -> None:
    """Train both models on the whole log (or a case type's closed cases) and save them, versioned, to one file."""
    from casework.insight.modelfile import InsightModel, make_version
    from casework.insight.nba import NBAParams, train_next_action
    from casework.insight.remaining import RemainingParams, train_remaining_time
    from casework.store.url import redacted

    if (log is None) == (definition is None):
        _err("error: give a LOG file or --definition KEY (the store's closed cases of that definition), not both")
        raise typer.Exit(2)
    if trained_at is not None and not _is_iso_time(trained_at):
        # It becomes part of the version that every suggestion and every accept or dismiss records.
        _err(f"error: --trained-at {trained_at!r} is not an ISO 8601 date or time (e.g. 20260301T090000Z or "
             "2026-03-01T09:00:00+01:00)")
        raise typer.Exit(2)
    if not out.parent.is_dir() or out.is_dir():  # found now, not after a minute of training
        _err(f"error: cannot write the model to {out}: " + ("it is a folder" if out.is_dir() else "no such folder"))
        raise typer.Exit(2)
    held = _not_a_model(out)
    if held is not None:  # a log or a database given as --out was replaced by the model, for good
        _err(f"error: cannot write the model to {out}: {held}, and the model would replace it; give --out another "
             "file (or remove that one first)")
        raise typer.Exit(2)
    if log is not None:
        with _readable_log():
            cases = read_log(log)
        source, left_out = log.name, ""
    else:
        assert definition is not None
        cases, open_count = _store_cases(db, definition)
        source = f"{definition} in {redacted(db)}"
        left_out = f" ({open_count} open case{'' if open_count == 1 else 's'} left out)" if open_count else ""
    cases.sort(key=lambda c: c.timestamps[0] if c.timestamps else float("inf"))
    stamp = trained_at or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    nba_params, rt_params = NBAParams(), RemainingParams()
    version = make_version(cases, nba_params, rt_params, stamp)
    shown = log if log is not None else source
    _err(f"training on {len(cases)} case{'' if len(cases) == 1 else 's'} of {shown}{left_out}")
    repeated = repeated_events(cases)
    if repeated:
        _err(f"{shown}: {duplicates_note(repeated, stored=definition is not None)}")
    nba = train_next_action(cases, nba_params, version=version, log=_err)
    rt = train_remaining_time(cases, rt_params, encoding=nba.encoding, log=_err)
    try:
        InsightModel(version, nba, rt, source=source, definition=definition or "").save(out)
    except OSError as exc:
        _err(f"error: cannot write the model to {out}: {exc}")
        raise typer.Exit(2) from None
    typer.echo(f"version: {version}")
    typer.echo(f"model: {out}")


def _is_iso_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _not_a_model(path: Path) -> str | None:
    """Why `path` must not be replaced by a model, or None: nothing is there, or a model file is (retraining
    replaces it). Anything else is a slip that cost the file for good: the log being trained on, the store's
    database (`--db sqlite:///cases.db --out cases.db`), /dev/null replaced by a file when run as root."""
    import gzip
    import re
    import zlib

    from casework.insight.modelfile import FORMAT_NAME

    if path.exists() and not path.is_file():  # /dev/null, a pipe: reading one blocks, and the model would replace it
        return "it is not a regular file"
    try:
        with path.open("rb") as raw:
            head = raw.read(2)
            if not head:
                return None
            if head != b"\x1f\x8b":
                return "it is not gzip, so no model file"
            raw.seek(0)
            with gzip.open(raw) as unzipped:
                start = unzipped.read(80)
    except FileNotFoundError:
        return None
    except PermissionError:
        return "it cannot be read, to see whether it is a model file"
    except (OSError, EOFError, zlib.error):
        return "it is a damaged gzip file"
    model = re.match(rb'\s*\{\s*"format"\s*:\s*"' + re.escape(FORMAT_NAME.encode()), start)
    return None if model else "it is a gzip file, but no model file"


def _store_cases(db: str, definition: str) -> tuple[list[Case], int]:
    """The closed cases of `definition` in the store at `db`, and how many are open; a one-line error otherwise."""
    from casework.insight.storelog import NoTrainingCases, closed_cases
    from casework.store.cli import open_store

    with open_store(db, read_only="suggest train") as store:
        try:
            return closed_cases(store, definition)
        except (NoTrainingCases, LogFormatError) as exc:
            _err(f"error: {exc}")
            raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    from casework.insight.case_cli import suggest_case
    from casework.insight.decide_cli import suggest_accept, suggest_dismiss
    from casework.insight.feedback_cli import suggest_feedback
    from casework.insight.findings_cli import suggest_flags, suggest_refresh
    from casework.insight.index_cli import suggest_index_documents
    from casework.insight.intake_cli import suggest_intake
    from casework.insight.similar_cli import suggest_similar

    suggest_app.command("case")(suggest_case)
    suggest_app.command("accept")(suggest_accept)
    suggest_app.command("dismiss")(suggest_dismiss)
    suggest_app.command("feedback")(suggest_feedback)
    suggest_app.command("flags")(suggest_flags)
    suggest_app.command("refresh")(suggest_refresh)
    suggest_app.command("intake")(suggest_intake)
    suggest_app.command("similar")(suggest_similar)
    suggest_app.command("index-documents")(suggest_index_documents)
    app.add_typer(suggest_app, name="suggest")
