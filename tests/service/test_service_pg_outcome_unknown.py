"""A write whose PostgreSQL connection drops at its COMMIT while the server stays unreachable: it may or may not have
been written, and the caller is told exactly that (`OutcomeUnknown`, one line naming the case and the command and
how to find out), never the driver's error, which read as a failure. A case start sent again with the same
idempotency key after the server is back starts the case once.

Only this test's own sessions are terminated: they are picked by an application_name no other session has.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers_service import Backends

from casework.audit.verify import verify
from casework.engine import commands
from casework.service import CaseService, OutcomeUnknown, ServiceError
from casework.store import Store
from casework.store.cli import environment_error

psycopg = pytest.importorskip("psycopg")
Cut = Callable[[], None]  # what brings the server back


@pytest.fixture(params=[False, True], ids=["lost-before-commit", "reply-lost-after-commit"])
def server_gone_at_commit(request: pytest.FixtureRequest, pg_service: tuple[CaseService, Backends],
                          monkeypatch: pytest.MonkeyPatch) -> tuple[CaseService, bool, Callable[[], Cut]]:
    """The service; whether the cut-off commit went through; and what makes the next COMMIT lose its connection
    (before or after the server committed) and the server unreachable from then on. That returns what brings the
    server back."""
    svc, backends = pg_service
    after: bool = request.param
    real_commit = psycopg.Connection.commit

    def refused():  # type: ignore[no-untyped-def]
        raise psycopg.OperationalError("connection refused")

    def cut() -> Callable[[], None]:
        def commit(conn):  # type: ignore[no-untyped-def]
            monkeypatch.setattr(psycopg.Connection, "commit", real_commit)
            if after:
                real_commit(conn)
            backends.terminate(conn.info.backend_pid, wait=True)
            monkeypatch.setattr(svc.store.engine, "raw_connection", refused)
            if after:
                conn.execute("SELECT 1")  # the client learns the connection is gone, as it would reading the reply
            return real_commit(conn)

        monkeypatch.setattr(psycopg.Connection, "commit", commit)
        return monkeypatch.undo

    return svc, after, cut


def _outcome_unknown(cut: Callable[[], Cut], call: Callable[[], object]) -> OutcomeUnknown:
    """What `call` raises when its commit is cut off with the server gone; the server is back afterwards."""
    back = cut()
    try:
        with pytest.raises(OutcomeUnknown) as unknown:
            call()
    finally:
        back()
    assert "\n" not in str(unknown.value) and unknown.value.case_id in str(unknown.value)
    return unknown.value


def _check_log(store: Store) -> None:
    report = verify(store)
    assert report.ok, report.problems


def test_a_command_whose_commit_was_cut_off_with_the_server_gone_has_an_unknown_outcome(
    server_gone_at_commit: tuple[CaseService, bool, Callable[[], Cut]]
) -> None:
    svc, written, cut = server_gone_at_commit
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    unknown = _outcome_unknown(cut, lambda: svc.execute(
        case_id, commands.AddItem(kind="humanTask", name="Call the customer", actor="ann")))
    assert isinstance(unknown, ServiceError) and unknown.case_id == case_id
    assert "AddItem" in str(unknown) and "may or may not" in str(unknown)
    line = environment_error(unknown)  # what `casework` prints, then exit 2
    assert line is not None and "audit state-at" in line and "\n" not in line
    added = [e for e in store.events(case_id) if e.type == "item_created" and e.payload["name"] == "Call the customer"]
    assert len(added) == (1 if written else 0)
    # The service's copy of the case was dropped: the next command is judged on what is stored.
    version = svc.execute(case_id, commands.SetVariables(variables={"n": 1}, actor="ann")).version
    assert version == len(store.events(case_id))
    _check_log(store)


def test_a_case_start_cut_off_with_the_server_gone_is_started_once_when_sent_again_with_its_key(
    server_gone_at_commit: tuple[CaseService, bool, Callable[[], Cut]]
) -> None:
    svc, written, cut = server_gone_at_commit
    store = svc.store
    svc.start_case("claim", {"amount": 1})  # the definition read and cached: the next commit is the start's
    unknown = _outcome_unknown(cut, lambda: svc.start_case("claim", {"amount": 2}, idempotency_key="order-7"))
    assert "idempotency key" in str(unknown)
    again = svc.start_case("claim", {"amount": 2}, idempotency_key="order-7")
    assert again.created is not written
    assert len(store.case_ids()) == 2
    if written:
        assert again.case_id == unknown.case_id
    _check_log(store)


def test_a_document_cut_off_with_the_server_gone_has_an_unknown_outcome(
    server_gone_at_commit: tuple[CaseService, bool, Callable[[], Cut]]
) -> None:
    svc, written, cut = server_gone_at_commit
    store = svc.store
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    unknown = _outcome_unknown(cut, lambda: svc.add_document(
        case_id, "invoice.pdf", b"%PDF-1.7 total 10", media_type="application/pdf", actor="ann"))
    assert "AttachDocument" in str(unknown) and unknown.case_id == case_id
    attached = [e for e in store.events(case_id) if e.type == "document_attached"]
    assert len(attached) == (1 if written else 0)
    _check_log(store)
