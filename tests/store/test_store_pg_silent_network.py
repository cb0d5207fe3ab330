"""PostgreSQL over a network path that goes silent (packets dropped, no RST or FIN: a firewall, a failed switch, a
frozen server host), through `silent_network`. A command or a read on such a connection used to wait for the
kernel's retransmission timeout (about 15 minutes) or for ever, and every writer queued behind its batch with it.
With libpq's tcp_user_timeout, keepalives and connect_timeout set (`url.pg_connect_args`; 2 s here), it fails:
a command with `OutcomeUnknown`, a read with the driver's error, and once the path is back the next one succeeds.

HANG is no speed check: a call still waiting after it (30 times the bound, a fifteenth of the kernel's timeout) is
taken to wait for the kernel, and the test fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from silent_network import SilentNetwork, silent_network
from sqlalchemy.exc import DBAPIError
from waiting import outcome_within

from casework.audit.verify import verify
from casework.engine import commands
from casework.paths import shared_dir
from casework.service import CaseService, OutcomeUnknown
from casework.store import Store, WriteOutcomeUnknown
from casework.store.cli import environment_error
from casework.store.testing import PG_ENV
from casework.store.url import CONNECT_TIMEOUT_ENV, NETWORK_TIMEOUT_ENV

pytest.importorskip("psycopg")

BOUND = 2  # seconds: CASEWORK_PG_NETWORK_TIMEOUT and CASEWORK_PG_CONNECT_TIMEOUT in these tests
HANG = 60
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def service(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SilentNetwork,
                                                                                             CaseService]]:
    """A service whose store reaches PostgreSQL through a path that the test can silence."""
    shared = shared_dir()
    if shared is None or not (shared / "bench" / "claim.cmmn").exists():
        pytest.skip("the shared corpus (bench/claim.cmmn) is not available")
    monkeypatch.setenv(NETWORK_TIMEOUT_ENV, str(BOUND))
    monkeypatch.setenv(CONNECT_TIMEOUT_ENV, str(BOUND))
    with silent_network(os.environ[PG_ENV]) as net:
        store = Store.open(net.url(pg_url), audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs")
        svc = CaseService(store, clock=lambda: T0)
        svc.deploy((shared / "bench" / "claim.cmmn").read_text(encoding="utf-8"))
        yield net, svc
        net.restore()
        with contextlib.suppress(Exception) if net.closed else contextlib.nullcontext():
            svc.close()  # the path closed by `_raises`: its last checkpoint cannot be written
        store.close()


def _run(net: SilentNetwork, call: Callable[[], Any]) -> Any:
    """What `call` returns, or the exception it raises; a failure if it is still waiting after HANG seconds (the path
    is closed to release it)."""
    return outcome_within(call, HANG, net.close, f"after the network went silent (the bound is {BOUND} s)")


def _raises(net: SilentNetwork, call: Callable[[], Any]) -> BaseException:
    error = _run(net, call)
    assert isinstance(error, BaseException), f"succeeded on a silent network: {error!r}"
    return error


def _idle() -> None:
    """As between a worker's commands: the connections' last exchange over, nothing sent for a moment."""
    time.sleep(0.5)


def test_a_command_on_a_silent_connection_fails_with_outcome_unknown_and_the_next_one_is_written(
    service: tuple[SilentNetwork, CaseService]
) -> None:
    net, svc = service
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.execute(case_id, commands.SetVariables(variables={"n": 1}, actor="ann"))
    acknowledged = [e.hash for e in store.events(case_id)]
    _idle()
    net.silence()
    error = _raises(net, lambda: svc.execute(
        case_id, commands.AddItem(kind="humanTask", name="Call the customer", actor="ann")))
    assert isinstance(error, OutcomeUnknown) and error.case_id == case_id, repr(error)
    assert "\n" not in str(error) and "may or may not" in str(error) and "audit state-at" in str(error)
    line = environment_error(error)  # what `casework` prints, then exit 2
    assert line is not None and "\n" not in line
    net.restore()
    version = svc.execute(case_id, commands.SetVariables(variables={"n": 2}, actor="ann")).version
    events = store.events(case_id)
    assert [e.hash for e in events[:len(acknowledged)]] == acknowledged  # nothing acknowledged was lost
    assert version == len(events)
    # Sent while the path dropped everything: it never reached the server.
    assert not [e for e in events if e.type == "item_created" and e.payload["name"] == "Call the customer"]
    report = verify(store)
    assert report.ok, report.problems


def test_every_writer_of_a_batch_on_a_silent_connection_is_told_and_the_batch_is_settled_once(
    service: tuple[SilentNetwork, CaseService], monkeypatch: pytest.MonkeyPatch
) -> None:
    net, svc = service
    store = svc.store
    cases = [svc.start_case("claim", {"amount": n}).case_id for n in range(4)]
    for case_id in cases:  # the group committer's connection made, and idle when the path goes silent
        svc.execute(case_id, commands.SetVariables(variables={"n": 0}, actor="ann"))
    writes = []
    for case_id in cases:
        prepared = svc._attempt(case_id, commands.SetVariables(variables={"n": 1}, actor="ann"), T0, False)
        writes.append(prepared.work)  # type: ignore[union-attr]
    _idle()
    attempts: list[None] = []
    real_raw_connection = store.engine.raw_connection

    def counted() -> Any:
        attempts.append(None)
        return real_raw_connection()

    net.silence()
    monkeypatch.setattr(store.engine, "raw_connection", counted)
    errors = _run(net, lambda: store.write_commands(writes))
    monkeypatch.undo()
    # One batch, lost as a whole: each writer may or may not have been written, and is told so.
    assert all(isinstance(error, WriteOutcomeUnknown) for error in errors), errors
    assert [error.case_id for error in errors] == cases  # type: ignore[union-attr]
    # One attempt to reach the server again for the batch, not one per writer (each waits out the connect timeout).
    assert len(attempts) == 1, attempts
    net.restore()
    for case_id in cases:
        assert svc.execute(case_id, commands.SetVariables(variables={"n": 2}, actor="ann")).version == len(
            store.events(case_id))


def test_a_read_on_a_silent_connection_fails_in_one_line_and_the_next_one_succeeds(
    service: tuple[SilentNetwork, CaseService]
) -> None:
    net, svc = service
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    assert store.case(case_id) is not None
    _idle()
    net.silence()
    error = _raises(net, lambda: store.case(case_id))
    line = environment_error(error)
    assert line is not None and "\n" not in line and "did not answer" in line, line
    # The hot-path read too, which goes to the driver: when no new connection can be made either, its error is
    # SQLAlchemy's, as every other read's (before, the driver's own, past the handlers that expect SQLAlchemy's).
    error = _raises(net, lambda: store.case_head(case_id))
    assert isinstance(error, DBAPIError), repr(error)
    net.restore()
    row = store.case(case_id)
    assert row is not None and row.version == len(store.events(case_id))


def test_idle_connections_to_a_path_that_was_silent_are_not_handed_out_again(
    service: tuple[SilentNetwork, CaseService]
) -> None:
    """A firewall or NAT that failed over forgot the connections it passed: theirs stay dropped while new ones go
    through. The pool's idle connections and the group committer's were probed while the path was silent and found
    dead; the next read and command are given new ones. Before, they were handed out, and waited for ever (once the
    path is back, the kernel's segments are acknowledged again)."""
    net, svc = service
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    assert store.case(case_id) is not None
    net.silence()
    time.sleep(3 * BOUND)  # silent for longer than the bound, with nothing to send: only keepalives can tell
    net.restore(forget=True)
    row = _run(net, lambda: store.case(case_id))
    assert row is not None and not isinstance(row, BaseException), row
    result = _run(net, lambda: svc.execute(case_id, commands.SetVariables(variables={"n": 1}, actor="ann")))
    assert not isinstance(result, BaseException), result
    assert result.version == len(store.events(case_id))


def test_connections_carry_the_bounds_where_the_url_does_not_set_them(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NETWORK_TIMEOUT_ENV, "12")
    monkeypatch.delenv(CONNECT_TIMEOUT_ENV, raising=False)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    with Store.open(f"{pg_url}&keepalives_idle=7", audit_key=tmp_path / "audit.key") as store, \
            store.engine.connect() as conn:
        parameters = conn.connection.driver_connection.info.get_parameters()
    expected = {"tcp_user_timeout": "12000", "keepalives": "1", "keepalives_idle": "7", "keepalives_interval": "2",
                "keepalives_count": "4", "connect_timeout": "10"}
    assert {name: parameters.get(name) for name in expected} == expected
