"""The `casework` command line: thin adapters over the library; each sub-app lives beside what it drives."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

# click's UsageError, from whichever click typer uses (newer typers carry their own copy): BadParameter's base.
UsageError: type[Exception] = typer.BadParameter.__mro__[1]


class _Commands(TyperGroup):
    """Every command: a failure of the machine (the database locked, read-only or gone, the disk full, a file that
    cannot be written) ends the command with one line on standard error and exit status 2, not a traceback. What
    the command reported done before it stays done: each write commits whole or not at all."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except UsageError as exc:  # `casework --bad-option`
            _usage_error(exc)

    def invoke(self, ctx: Any) -> Any:
        from casework.store.cli import environment_error

        try:
            return super().invoke(ctx)
        except UsageError as exc:
            _usage_error(exc)
        except BrokenPipeError as exc:
            # The pipe's reader stopped reading (`| head`): it had what it wanted. Say nothing, as a tool that
            # SIGPIPE ends does, and with its exit status; standard output goes to /dev/null so that Python's
            # own flush at exit does not print the same error again.
            with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141) from exc
        except Exception as exc:
            message = environment_error(exc)
            if message is None:
                raise
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(2) from exc


def _usage_error(exc: Exception) -> NoReturn:
    """A usage error (an unknown command or option, a bad or missing value) is bad input like any other: one line,
    `error: ...`, and exit status 2. Typer's own rendering was a usage line, a hint and a framed box."""
    if type(exc).__name__ == "NoArgsIsHelpError":
        raise exc  # `casework` or `casework suggest` alone: the help, as asked (a UsageError since click 8.2)
    from casework.store.url import redacted_in

    # Click quotes what was typed: a database URL given without --db, or to another option, with its password.
    message = redacted_in(" ".join(exc.format_message().split()))  # type: ignore[attr-defined]
    # Without its context (an option's missing value, found while parsing) the command is not known to name.
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    typer.echo(f"error: {message}{hint}", err=True)
    raise typer.Exit(2) from exc


app = typer.Typer(
    cls=_Commands, no_args_is_help=True, add_completion=False,
    help="casework: dynamic case management on CMMN 1.1 models.\n\n"
         "Start with `casework demo` (a claim walked through its life, stored in ./casework.db), then "
         "`casework audit verify`, `casework tasks --case CASE_ID --state completed` and "
         "`casework export --format xes -o claims.xes`. Commands that read or write cases take `--db URL` "
         "(or CASEWORK_DB; default sqlite:///./casework.db). `casework COMMAND --help` explains each.",
    epilog="Not built yet: `serve` (the HTTP API and web UI), `worker`, `users` and `tokens`; each says so "
           "when run.",
)

# Sub-applications register here, one line each. Every command's module is imported to start any command, so each
# imports what its commands need inside them (tests/test_cli_startup.py holds `--help` to that).
from casework.bench_cli import register as _register_bench  # noqa: E402
from casework.conformance.cli import register as _register_conformance  # noqa: E402
from casework.demo.cli import register as _register_demo  # noqa: E402
from casework.insight.cli import register as _register_insight  # noqa: E402
from casework.service.case_cli import register as _register_case  # noqa: E402
from casework.service.cli import register as _register_service  # noqa: E402
from casework.service.deploy_cli import register as _register_deploy  # noqa: E402
from casework.service.migrate_cli import register as _register_migrate  # noqa: E402
from casework.store.cases_cli import register as _register_cases  # noqa: E402
from casework.store.cli import register as _register_store  # noqa: E402
from casework.unbuilt_cli import register as _register_unbuilt  # noqa: E402
from casework.validate_cli import register as _register_model  # noqa: E402

_register_model(app)
_register_deploy(app)
_register_cases(app)
_register_case(app)
_register_migrate(app)
_register_conformance(app)
_register_insight(app)
_register_store(app)
_register_service(app)
_register_bench(app)
_register_demo(app)
_register_unbuilt(app)


def main() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    app(prog_name="casework")


def _interrupt(signum: int, frame: object) -> None:
    """A SIGTERM (a service manager or `timeout` stopping the command) ends it as Ctrl-C does: what it committed
    stays, and what it does on an interrupt runs (an export removes its unfinished file, import-log says what
    stayed). Left to the default, the process vanished mid-write and left an export's `.partial` file behind."""
    raise KeyboardInterrupt
