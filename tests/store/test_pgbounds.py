"""`pgbounds`: the lock and statement timeouts that libpq's `options` give, read by casework itself because a pooler
in transaction mode drops them (PgBouncer refuses `options`, or ignores them when told to)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from casework.cli import app

pytest.importorskip("psycopg")

from casework.store.pgbounds import _options_settings
from casework.store.url import SettingError


@pytest.mark.parametrize(("options", "expected"), [
    ("", {}),
    ("-csearch_path=t_1", {}),
    ("-csearch_path=t_1 -cstatement_timeout=5s", {"statement_timeout": 5_000}),
    ("-c statement_timeout=15min  -c lock_timeout=250", {"statement_timeout": 900_000, "lock_timeout": 250}),
    ("--lock-timeout=1.5s --statement_timeout=2h", {"lock_timeout": 1_500, "statement_timeout": 7_200_000}),
    ("-c Statement_Timeout=1d", {"statement_timeout": 86_400_000}),
    ("-c application_name=a\\ b -c lock_timeout=0", {"lock_timeout": 0}),
])
def test_the_options_timeouts_are_read_in_milliseconds(options: str, expected: dict[str, int]) -> None:
    assert _options_settings(options) == expected


def test_a_timeout_in_the_options_that_is_no_time_is_refused_in_one_line() -> None:
    with pytest.raises(SettingError, match=r"statement_timeout='soon', which is no time"):
        _options_settings("-c statement_timeout=soon")


def test_a_command_given_such_options_says_so_in_one_line_before_it_connects() -> None:
    url = "postgresql://nobody@db.invalid/cases?options=-c%20lock_timeout%3Dsoon"
    result = CliRunner().invoke(app, ["tasks", "--db", url])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "error: the database URL's options (or PGOPTIONS) set lock_timeout='soon', which is no time: give a number "
        "with a unit (ms, s, min, h, d), e.g. -c statement_timeout=15min"]
