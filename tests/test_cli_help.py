"""What a newcomer reads first: `casework --help`, each command's help, and the commands DESIGN.md names that are not
built yet."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from casework.cli import app

runner = CliRunner()


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            found += _commands(command.get_command(ctx, name), (*path, name))
    return found


def test_every_command_summary_is_one_line_of_its_help() -> None:
    # A group's list of commands shows each one's first paragraph with its line breaks kept ("what\n falls due."):
    # the summary has to be one line, the details a paragraph of their own.
    broken = [" ".join(path) for path, command in _commands(typer.main.get_command(app))
              if "\n" in inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]]
    assert broken == []


@pytest.mark.parametrize("args", [["serve"], ["serve", "--db", "sqlite:///x.db", "--port", "9000", "--demo"],
                                  ["worker", "--db", "postgresql://h/db"], ["worker", "--help"],
                                  ["users", "add", "ann", "--role", "admin", "--password-stdin"],
                                  ["tokens", "create", "ann"]])
def test_a_command_the_design_names_but_that_is_not_built_says_so_in_one_line(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: `casework {args[0]}` is not built yet (") and "Project status" in line


def test_the_top_level_help_starts_a_newcomer_and_names_what_is_not_built() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Start with `casework demo`" in text
    assert "Not built yet: `serve` (the HTTP API and web UI), `worker`, `users` and `tokens`" in text
    listed = {path[0] for path, _ in _commands(typer.main.get_command(app)) if len(path) == 1}
    assert {"serve", "worker", "users", "tokens"} <= listed  # there, but hidden from the list of what works
    assert "│ serve" not in result.stdout


@pytest.mark.parametrize("command", [["tasks"], ["export"], ["audit", "verify"], ["audit", "state-at"],
                                     ["import-log"], ["reproject"], ["deploy"], ["definitions"], ["cases"],
                                     ["migrate"], ["case", "show"], ["case", "start"], ["case", "add-task"],
                                     ["case", "history"], ["case", "explain"]])
def test_the_db_option_names_its_default_once(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert result.stdout.count("sqlite:///./casework.db") == 1


def test_a_stub_never_shadows_a_command_of_its_name_that_is_built() -> None:
    from casework.unbuilt_cli import register

    built = typer.Typer()

    @built.command("serve")
    def serve() -> None:
        typer.echo("serving")

    @built.command("demo")
    def demo() -> None:
        """Keeps `serve` a sub-command."""

    register(built)
    assert runner.invoke(built, ["serve"]).stdout == "serving\n"
    assert runner.invoke(built, ["worker"]).exit_code == 2


def test_a_stub_never_shadows_a_built_command_named_after_its_function() -> None:
    from casework.unbuilt_cli import register

    built = typer.Typer()

    @built.command()
    def serve() -> None:
        typer.echo("serving")

    @built.command()
    def demo() -> None:
        """Keeps `serve` a sub-command."""

    register(built)
    assert runner.invoke(built, ["serve"]).stdout == "serving\n"
    assert runner.invoke(built, ["worker"]).exit_code == 2


def test_a_case_id_argument_points_at_the_command_that_lists_cases() -> None:
    # `casework tasks` lists tasks: a case without an open task, a closed one say, is not found there
    hints = {" ".join(path): param.help for path, command in _commands(typer.main.get_command(app))
             for param in getattr(command, "params", []) if "lists them" in (getattr(param, "help", None) or "")
             and "id of a stored case" in (getattr(param, "help", None) or "")}
    assert "audit state-at" in hints
    assert {path: hint for path, hint in hints.items() if "`casework cases` lists them" not in hint} == {}


def test_the_suggest_group_names_what_decision_support_does() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "300"})
    (line,) = [line for line in result.stdout.splitlines() if "│ suggest " in line]
    assert all(word in line for word in ("next-best actions", "flags", "documents", "similar cases", "answers"))
