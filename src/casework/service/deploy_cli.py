"""`casework deploy` and `casework definitions`: models as versions of their definition key, without Python."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from casework.display import shown
from casework.store import DEFAULT_DB
from casework.store.cli import DbOption, open_store


def deploy_cmd(
    files: Annotated[list[Path], typer.Argument(help="CMMN 1.1 files, each deployed as its definition key's next "
                                                     "version")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Validate each CMMN file and deploy it as the next version of its definition key.

    Prints `deployed KEY version N (FILE)`; a file whose text is that of its key's latest version adds no version,
    and says so. Every file is read and checked before any is deployed: if one cannot be read or is invalid (its
    problems printed as `casework validate` prints them) or holds more than one case, nothing is deployed and the
    exit status is 2. Running cases stay on their version until `casework migrate` moves them."""
    from casework.model import ModelError
    from casework.service import CaseService
    from casework.validate_cli import model_problems

    models: list[tuple[Path, bytes]] = []
    for path in dict.fromkeys(files):
        try:
            models.append((path, path.read_bytes()))
        except OSError as exc:
            typer.echo(f"error: cannot read {path}: {exc.strerror or exc}; nothing deployed", err=True)
            raise typer.Exit(2) from exc
    for path, data in models:
        _one_case(path, data)
    judged = [(path, model_problems(data)) for path, data in models]
    failed = [path for path, problems in judged if problems]
    if failed:
        for path, problems in judged:
            typer.echo(f"FAIL {path}" if problems else f"OK {path}")
            for problem in problems:
                typer.echo(f"  {problem}")
        typer.echo(f"error: {len(failed)} of {len(judged)} files failed validation; nothing deployed", err=True)
        raise typer.Exit(2)
    with open_store(db, create=True) as store, CaseService(store) as svc:
        for path, data in models:
            try:
                key, version, created = svc.deploy_version(data)
            except ModelError as exc:  # checked above; a text Python cannot decode is found only here
                typer.echo(f"error: {path}: {'; '.join(map(str, exc.problems))}; it and the files after it were "
                           "not deployed", err=True)
                raise typer.Exit(2) from exc
            if created:
                typer.echo(f"deployed {shown(key)} version {version} ({path})")
            else:
                typer.echo(f"unchanged {shown(key)} version {version} ({path} is its latest version already; no "
                           "version added)")


def _one_case(path: Path, data: bytes) -> None:
    """A document of several cases is refused: a deployed version is the document, read back as its first case, so
    the others would be checked by `validate` and then silently not deployed."""
    from casework.model import ModelError
    from casework.model.cmmn_import import case_ids

    try:
        ids = case_ids(data)
    except ModelError:
        return  # not CMMN: validation says what is wrong with it
    if len(ids) > 1:
        typer.echo(f"error: {path} holds {len(ids)} cases ({', '.join(map(shown, ids))}); deploy takes one case per "
                   "file: put each in a file of its own; nothing deployed", err=True)
        raise typer.Exit(2)


def definitions_cmd(db: DbOption = DEFAULT_DB) -> None:
    """List each definition key's deployed versions, when each was deployed, and its open and closed cases."""
    from rich.console import Console
    from rich.table import Table

    from casework.display import plain
    from casework.store import organisation_zone
    from casework.store.cli import clock_text

    zone = organisation_zone()
    with open_store(db, read_only="definitions") as store:
        versions = store.definition_versions()
    title = f"{len(versions)} definition version" + ("" if len(versions) == 1 else "s")
    table = Table("key", "version", "name", "deployed", "open", "closed", title=title)
    for v in versions:
        table.add_row(*map(plain, (v.key, v.version, v.name or "", clock_text(v.deployed_at, zone), v.open,
                                   v.closed)))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy_cmd)
    app.command("definitions")(definitions_cmd)
