"""A call that may wait for ever on a database that stopped answering, run so that the test ends either way."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest


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
