"""Database URLs in messages: never with a password, whether or not the URL parses."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from casework.cli import app
from casework.store.url import StoreURLError, parse_url, redacted


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ann:s3cret@db.example/cases", "postgresql://ann:***@db.example/cases"),
        ("postgresql://ann@db.example/cases?password=s3cret", "postgresql://ann@db.example/cases?password=***"),
        ("postgresql://db.example/cases?user=ann&sslpassword=s3cret&sslmode=require",
         "postgresql://db.example/cases?sslmode=require&sslpassword=***&user=ann"),
        # Not URLs SQLAlchemy can read: redacted as text.
        ("postgresql://ann:s3cret@db.example:notaport/cases", "postgresql://ann:***@db.example:notaport/cases"),
        ("postgresql://ann:s3c/ret@[::1/cases", "postgresql://ann:***@[::1/cases"),
        ("postgres ql://ann:s3cret@h/cases?password=s3cret", "postgres ql://ann:***@h/cases?password=***"),
        ("sqlite:///cases.db", "sqlite:///cases.db"),
        # A password with an unencoded '@': SQLAlchemy parses it, taking the rest of the password for the host.
        ("postgresql://ann:s3c@ret@db.example/cases", "postgresql://ann:***@db.example/cases"),
        # A scheme mistyped with one slash, and libpq's key/value form (not a URL at all).
        ("postgres:/ann:s3cret@h/cases", "postgres:/ann:***@h/cases"),
        ("host=h password=s3cret dbname=cases", "host=h password=*** dbname=cases"),
        ("host=h PASSWORD = 's3c ret' dbname=cases", "host=h PASSWORD = *** dbname=cases"),
    ],
)
def test_a_url_is_shown_without_its_passwords(url: str, shown: str) -> None:
    assert redacted(url) == shown


def test_a_url_that_does_not_parse_is_refused_without_its_password() -> None:
    with pytest.raises(StoreURLError) as info:
        parse_url("postgresql://ann:s3cret@127.0.0.1:notaport/cases")
    assert "s3cret" not in str(info.value)
    assert "postgresql://ann:***@127.0.0.1:notaport/cases" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ann@127.0.0.1:1/cases?password=s3cret",
        "postgresql://ann:s3cret@127.0.0.1:notaport/cases",
        "postgresql://ann:s3cret@[::1/cases",
        "postgres:/ann:s3cret@127.0.0.1/cases",
        "host=127.0.0.1 password=s3cret dbname=cases",
    ],
)
@pytest.mark.parametrize("command", [["tasks"], ["audit", "verify"], ["demo"]])
def test_the_command_line_never_prints_the_password(url: str, command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--db", url])
    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert "s3cret" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["tasks", "postgresql://ann:s3cret@127.0.0.1/cases"],  # --db forgotten
        ["tasks", "--state", "postgresql://ann:s3cret@127.0.0.1/cases"],  # given to another option
        ["tasks", "--state", "host=h password=s3cret"],
    ],
)
def test_a_usage_error_never_prints_the_password(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert "s3cret" not in result.output
    assert "***" in result.output


def test_postgresql_connections_get_network_bounds_that_the_url_and_libpq_settings_override(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    from casework.store.url import pg_connect_args

    for name in ("CASEWORK_PG_NETWORK_TIMEOUT", "CASEWORK_PG_CONNECT_TIMEOUT", "PGCONNECT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    assert pg_connect_args(parse_url("postgresql://db.example/cases")) == {
        "tcp_user_timeout": 30_000, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
        "keepalives_count": 4, "connect_timeout": 10}
    assert pg_connect_args(parse_url("sqlite:///cases.db")) == {}
    # The URL's own win; so does libpq's PGCONNECT_TIMEOUT, which a connect_timeout of casework's would override.
    args = pg_connect_args(parse_url("postgresql://db.example/cases?tcp_user_timeout=5000&keepalives=0"))
    assert "tcp_user_timeout" not in args and "keepalives" not in args and args["keepalives_idle"] == 10
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "3")
    assert "connect_timeout" not in pg_connect_args(parse_url("postgresql://db.example/cases"))
    monkeypatch.setenv("CASEWORK_PG_NETWORK_TIMEOUT", "0")  # no bound: the kernel's, as before
    assert pg_connect_args(parse_url("postgresql://db.example/cases")) == {}


@pytest.mark.parametrize("value", ["thirty", "-1", "2.5", "1e3", "100000"])
@pytest.mark.parametrize("name", ["CASEWORK_PG_NETWORK_TIMEOUT", "CASEWORK_PG_STATEMENT_TIMEOUT",
                                  "CASEWORK_PG_LOCK_TIMEOUT"])
def test_a_postgresql_bound_that_is_no_number_of_seconds_is_refused_in_one_line(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["tasks", "--db", "postgresql://db.example/cases"])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {name}=") and "seconds" in line


def test_a_pooling_mode_casework_does_not_know_is_refused_in_one_line_before_anything_opens(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_PG_POOLER", "statement")
    result = CliRunner().invoke(app, ["tasks", "--db", "postgresql://nobody@db.invalid/cases"])
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [
        "error: CASEWORK_PG_POOLER='statement' is not a pooling mode: give session (the default: PostgreSQL itself, "
        "or a pooler in session mode) or transaction (PgBouncer's pool_mode = transaction)"]
