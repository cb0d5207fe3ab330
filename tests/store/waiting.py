"""A call that may wait for ever on a database that stopped answering, run so that the test ends either way; and a
statement that takes as long as a test wants."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from casework.store import Store


def outcome_within(call: Callable[[], Any], seconds: float, release: Callable[[], None], waiting: str) -> Any:
    """What `call` returns, or the exception it raises; a test failure if it is still waiting after `seconds`
    (`release` then ends what it waits on, so that its thread ends too). `waiting`: what it waited on, for the
    failure's message."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        release()
        thread.join(seconds)
        pytest.fail(f"still waiting {seconds:g} s {waiting}")
    return outcome[0]


def sleep_in_read(store: Store, seconds: float) -> BaseException | None:
    """The error of a PostgreSQL read of `store` that sleeps `seconds` on the server (a statement timeout past it,
    the server's or the client's), or None."""
    try:
        with store.read() as conn:
            conn.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
    except DBAPIError as exc:
        return exc
    return None
