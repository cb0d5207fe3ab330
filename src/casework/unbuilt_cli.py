"""`casework serve`, `worker`, `users` and `tokens`: command lines that DESIGN.md fixes but that are not built yet.

Each answers with one line saying so, and exit status 2, rather than click's "No such command", which left a
newcomer following the design's contracts to guess whether they had mistyped or installed the wrong thing."""

from __future__ import annotations

import typer

# What each would do once built, and what stands in for it meanwhile. When one is built, take it out of this table and
# of the top-level help's epilog (cli.py); until then `register` leaves a name that is already registered alone.
UNBUILT = {
    "serve": "the HTTP API, web UI and worker in one process; until then `casework demo` walks a case in the terminal",
    "worker": "the background worker that fires timers and SLA jobs; until then they are recorded in the jobs table "
              "and nothing fires them",
    "users": "user accounts for the HTTP API and web UI, which are not built either",
    "tokens": "bearer tokens for the HTTP API, which is not built either",
}
_EXTRA = {"ignore_unknown_options": True, "allow_extra_args": True}


def _refuse(name: str) -> None:
    typer.echo(f"error: `casework {name}` is not built yet ({UNBUILT[name]}); see README.md, \"Project status\"",
               err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    # Of two commands of one name, typer runs the one registered last: a stub must not shadow the real command
    # registered before it (a branch that builds `serve` merged before this table is updated).
    from typer.main import get_command_name

    # A command registered without a name (`@app.command()`) is named after its function, as typer will name it.
    taken = {command.name or (get_command_name(command.callback.__name__) if command.callback else None)
             for command in app.registered_commands} | {group.name for group in app.registered_groups}
    for name in UNBUILT:
        if name in taken:
            continue
        # Hidden: `casework --help` lists what works, and says in its epilog which commands are still to come.
        # Whatever follows (`users add ann --role admin`, `--help`) is taken and ignored: the answer is the same.
        def command(ctx: typer.Context) -> None:
            _refuse(ctx.info_name or "")

        app.command(name, hidden=True, context_settings=_EXTRA, add_help_option=False)(command)
