"""Inputs and situations a hardening pass found mishandled: stale no-ops, racing deploys, migration targets, model
bytes, argument types, and a closed service."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import BinaryIO

import pytest
from helpers_service import T0, assert_stored_state_is_the_log, claim_xml

from casework.audit.verify import verify
from casework.engine import commands
from casework.model import ModelError, load_definition
from casework.service import CaseService, InvalidInput, ServiceClosed
from casework.store import Store


@pytest.fixture
def store(db_url: str, tmp_path) -> Store:  # type: ignore[no-untyped-def]
    # Its own blob folder: PostgreSQL's default is ./casework-blobs, where a blob left by an earlier run was found
    # already stored, and the test that holds up the storing of one waited for a store that never came.
    opened = Store.open(db_url, audit_key=tmp_path / "audit.key", blob_dir=tmp_path / "blobs")
    yield opened
    opened.close()


def test_a_no_op_judged_on_a_stale_cached_copy_is_judged_again(store: Store) -> None:
    """Two processes: A cached x=1; B set x=2; A is asked for x=1, which its copy says is already so."""
    a, b = CaseService(store, clock=lambda: T0), CaseService(store, clock=lambda: T0)
    a.deploy(claim_xml())
    case_id = a.start_case("claim", {"amount": 10, "x": 1}).case_id
    a.execute(case_id, commands.SetVariables(variables={"y": 0}))  # A now holds the case in its cache
    moved = b.execute(case_id, commands.SetVariables(variables={"x": 2}))
    result = a.execute(case_id, commands.SetVariables(variables={"x": 1}))
    assert result.events and result.version == moved.version + 1
    assert b.state(case_id).variables["x"] == 1
    # and a real no-op still writes nothing
    again = a.execute(case_id, commands.SetVariables(variables={"x": 1}))
    assert not again.events and again.version == result.version == store.case(case_id).version  # type: ignore[union-attr]
    assert_stored_state_is_the_log(store, case_id)
    a.close()
    b.close()


def test_processes_deploying_at_once_get_one_version_per_distinct_text(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Each thread has its own Store, so the store's in-process lock does not serialise them: as processes."""
    stores = [Store.open(db_url, audit_key=tmp_path / "audit.key") for _ in range(4)]

    def deploy_all(texts: list[str]) -> list[tuple[str, int]]:
        results: list[tuple[str, int]] = []
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(stores))

        def deploy(store: Store, text: str) -> None:
            barrier.wait()
            try:
                results.append(CaseService(store).deploy(text))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=deploy, args=(s, t)) for s, t in zip(stores, texts, strict=True)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert errors == []
        return results

    try:
        assert deploy_all([claim_xml()] * 4) == [("claim", 1)] * 4
        renamed = [claim_xml().replace('name="Close claim"', f'name="Close claim {i}"') for i in range(4)]
        assert sorted(deploy_all(renamed)) == [("claim", 2), ("claim", 3), ("claim", 4), ("claim", 5)]
        assert [v for _, v, _ in stores[0].definitions()] == [1, 2, 3, 4, 5]
    finally:
        for s in stores:
            s.close()


def test_a_migration_must_name_the_deployed_definition_it_brings(store: Store) -> None:
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    undeployed = load_definition(claim_xml().replace('name="Close claim"', 'name="Close and archive"'))
    before = store.counts()
    with pytest.raises(InvalidInput, match="version 1 of 'claim' is not the definition given"):
        svc.execute(case_id, commands.Migrate(definition=undeployed, version="1"))
    assert store.counts() == before and store.case(case_id).definition_version == 1  # type: ignore[union-attr]
    # deploying the same text again keeps the definition a caller already holds usable
    key, version = svc.deploy(claim_xml().replace('name="Close claim"', 'name="Close and archive"'))
    _, target = svc.definition(key, version)
    assert svc.deploy(claim_xml().replace('name="Close claim"', 'name="Close and archive"')) == (key, version)
    svc.execute(case_id, commands.Migrate(definition=target))
    assert store.case(case_id).definition_version == 2  # type: ignore[union-attr]
    # a definition equal to the deployed one (parsed again by the caller) names it just as well
    third = claim_xml().replace('name="Close claim"', 'name="Close, archive"')
    key, version = svc.deploy(third)
    svc.execute(case_id, commands.Migrate(definition=load_definition(third), version=str(version)))
    assert store.case(case_id).definition_version == 3  # type: ignore[union-attr]
    svc.close()


def test_cases_of_a_definition_deployed_before_a_newer_check_still_run(store: Store) -> None:
    # A model that an earlier casework accepted: an on-part listens for an event a milestone never raises (the kind
    # of check a later version adds). Read back from the store after the upgrade, it must not strand its cases.
    xml = claim_xml().replace(
        "</casePlanModel>",
        '<planItem id="piNever" name="Never" definitionRef="msNever"/>'
        '<planItem id="piAfter" name="After" definitionRef="msAfter"><entryCriterion sentryRef="sN"/></planItem>'
        '<sentry id="sN"><planItemOnPart id="onN" sourceRef="piNever"><standardEvent>complete</standardEvent>'
        '</planItemOnPart></sentry><milestone id="msNever" name="Never"/><milestone id="msAfter" name="After"/>'
        "</casePlanModel>",
    )
    svc = CaseService(store, clock=lambda: T0)
    with pytest.raises(ModelError, match="never raises 'complete'"):
        svc.deploy(xml)
    store.deploy_definition("claim", "Claim", xml, T0)  # as the earlier version stored it
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="ann"))
    assert_stored_state_is_the_log(store, case_id)
    svc.close()


def test_a_model_given_as_bytes_is_read_in_its_declared_encoding(store: Store) -> None:
    svc = CaseService(store, clock=lambda: T0)
    xml = claim_xml().replace('name="Close claim"', 'name="Clôture du dossier"')
    latin1 = xml.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"', 1)
    assert 'encoding="ISO-8859-1"' in latin1
    key, version = svc.deploy(latin1.encode("latin-1"))
    row = store.definition(key, version)
    assert row is not None and "Clôture du dossier" in row.xml
    fresh = CaseService(store, clock=lambda: T0)  # parses the stored text, not the bytes
    names = {item.name for item in fresh.definition(key, version)[1].items.values()}
    assert "Clôture du dossier" in names
    assert svc.deploy(("\ufeff" + xml).encode("utf-8"))[0] == key
    svc.close()


def test_arguments_of_the_wrong_type_are_bad_input_and_write_nothing(store: Store) -> None:
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    before = store.counts()
    for kwargs, message in (
        ({"business_key": 123}, "business key must be text, not int"),
        ({"idempotency_key": b"k"}, "idempotency key must be text, not bytes"),
        ({"case_id": 123}, "case id 123 must be"),
        ({"now": datetime(2024, 1, 1)}, "now must be a datetime with a time zone"),
    ):
        with pytest.raises(InvalidInput, match=message):
            svc.start_case("claim", {"amount": 1}, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="now must be a datetime with a time zone"):
        svc.execute(case_id, commands.CompleteItem(item="Review claim"), now=datetime(2024, 1, 1))
    assert store.counts() == before
    svc.close()


def test_a_closed_service_takes_no_more_commands_and_left_nothing_unsealed(store: Store) -> None:
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    svc.execute(case_id, commands.CompleteItem(item="Review claim"))
    svc.close()
    before = store.counts()
    with pytest.raises(ServiceClosed):
        svc.execute(case_id, commands.CompleteItem(item="Request documents"))
    with pytest.raises(ServiceClosed):
        asyncio.run(svc.aexecute(case_id, commands.CompleteItem(item="Request documents")))
    with pytest.raises(ServiceClosed):
        svc.start_case("claim", {"amount": 10})
    assert store.counts() == before
    report = verify(store)
    assert report.ok and report.sealed_events == before[1]


def test_a_callers_later_change_to_its_own_list_is_not_the_cases(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(db_url, audit_key=tmp_path / "audit.key")
    svc = CaseService(store, clock=lambda: T0, snapshot_every=1)
    svc.deploy(claim_xml())
    tags = ["urgent"]
    case_id = svc.start_case("claim", {"amount": 10, "tags": tags}).case_id
    tags.append("fraud-suspect")  # the caller's list, changed after the case took it
    assert svc.state(case_id).variables["tags"] == ["urgent"]
    changed = svc.execute(case_id, commands.SetVariables(variables={"tags": tags}))
    assert changed.events  # the case still had ["urgent"]: this is a change, and it is stored
    tags.append("closed")
    svc.execute(case_id, commands.SetVariables(variables={"note": "x"}))  # rewrites the snapshot (every event)
    assert CaseService(store).state(case_id).variables["tags"] == ["urgent", "fraud-suspect"]
    assert verify(store).ok
    svc.close()
    store.close()


def test_close_waits_for_a_running_call_and_seals_what_it_wrote(store: Store) -> None:
    svc = CaseService(store, clock=lambda: T0)
    svc.deploy(claim_xml())
    case_id = svc.start_case("claim", {"amount": 10}).case_id
    storing, go = threading.Event(), threading.Event()
    put = store.blobs.put_stream

    def slow_put(source: BinaryIO) -> tuple[str, int]:  # a large upload still being stored when told to close
        storing.set()
        go.wait(10)
        return put(source)

    store.blobs.put_stream = slow_put  # type: ignore[method-assign]
    attached: list[object] = []
    upload = threading.Thread(target=lambda: attached.append(
        svc.add_document(case_id, "scan.pdf", b"%PDF", media_type="application/pdf", actor="ann")))
    upload.start()
    assert storing.wait(10)
    closer = threading.Thread(target=svc.close)
    closer.start()
    closer.join(0.3)
    assert closer.is_alive()  # waiting for the upload
    go.set()
    upload.join(10)
    closer.join(10)
    assert attached and not closer.is_alive()
    report = verify(store)
    assert report.ok and report.sealed_events == store.counts()[1]  # the attachment's event is sealed too


def test_times_given_in_another_zone_are_stored_as_the_same_instant(svc: CaseService) -> None:
    from datetime import UTC, timedelta, timezone

    plus2 = timezone(timedelta(hours=2))
    case_id = svc.start_case("claim", {"amount": 10}, now=datetime(2024, 5, 1, 12, 0, tzinfo=plus2)).case_id
    row = svc.store.case(case_id)
    assert row is not None and row.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    svc.add_document(case_id, "a.pdf", b"a", media_type="application/pdf", actor="ann",
                     now=datetime(2024, 5, 1, 13, 0, tzinfo=plus2))
    svc.store.add_document(case_id, "b.pdf", b"b", media_type="application/pdf", created_by="ann",
                           now=datetime(2024, 5, 1, 14, 0, tzinfo=plus2))
    assert [d.created_at for d in svc.store.documents(case_id)] == [
        datetime(2024, 5, 1, 11, 0, tzinfo=UTC), datetime(2024, 5, 1, 12, 0, tzinfo=UTC)]
    assert svc.store.events(case_id)[0].at == "2024-05-01T10:00:00Z"
