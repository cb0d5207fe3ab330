"""`casework.store.testing`: with CASEWORK_REQUIRE_POSTGRES=1 the PostgreSQL variant of a test fails rather than
skips when it cannot run, so that a run which lost its server, or its URL, does not pass without it."""

from __future__ import annotations

import pytest

from casework.store.testing import PG_ENV, REQUIRE_ENV, postgres_base_url


def test_without_a_url_the_postgresql_variant_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PG_ENV, raising=False)
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"PostgreSQL tests need {PG_ENV}"):
        postgres_base_url()


def test_required_and_without_a_url_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PG_ENV, raising=False)
    monkeypatch.setenv(REQUIRE_ENV, "1")
    with pytest.raises(BaseException) as outcome:  # a skip too, so that a skip fails this test rather than skips it
        postgres_base_url()
    assert isinstance(outcome.value, pytest.fail.Exception), repr(outcome.value)
    assert f"{REQUIRE_ENV}=1 requires them" in str(outcome.value)


def test_with_a_url_it_is_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PG_ENV, "postgresql://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv(REQUIRE_ENV, "1")
    assert postgres_base_url() == "postgresql://postgres@127.0.0.1:5432/test"


def test_without_pgbouncer_its_tests_skip_unless_required(monkeypatch: pytest.MonkeyPatch) -> None:
    from bouncer import REQUIRE_ENV as BOUNCER_REQUIRED
    from bouncer import pgbouncer_binary

    monkeypatch.setattr("shutil.which", lambda *_args, **_kwargs: None)  # no pgbouncer anywhere
    monkeypatch.delenv(BOUNCER_REQUIRED, raising=False)
    with pytest.raises(pytest.skip.Exception, match="need PgBouncer's `pgbouncer` program"):
        pgbouncer_binary()
    monkeypatch.setenv(BOUNCER_REQUIRED, "1")
    with pytest.raises(BaseException) as outcome:
        pgbouncer_binary()
    assert isinstance(outcome.value, pytest.fail.Exception), repr(outcome.value)
    assert f"{BOUNCER_REQUIRED}=1 requires them" in str(outcome.value)
