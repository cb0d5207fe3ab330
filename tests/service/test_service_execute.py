from __future__ import annotations

from datetime import timedelta

import pytest
from helpers_service import T0, TIMER_MODEL, assert_stored_state_is_the_log, claim_xml

from casework.audit.verify import verify
from casework.engine import CommandRejected, commands
from casework.model import ModelError
from casework.service import CaseService, Conflict, InvalidInput, NotFound
from casework.store import Store


def test_claim_runs_to_completion_with_projections(svc: CaseService) -> None:
    started = svc.start_case("claim", {"amount": 5000}, actor="ann")
    assert started.created and started.status == "active"
    inbox = svc.store.tasks(case_id=started.case_id, states=("active",), kinds=("humanTask",))
    assert [t.name for t in inbox] == ["Review claim"]
    for name in ("Review claim", "Request documents", "Assess damage", "Manager approval", "Close claim"):
        result = svc.execute(started.case_id, commands.CompleteItem(item=name, actor="bob", reason="done"))
        assert result.events and all(e.actor == "bob" for e in result.events)
    assert result.status == "completed"
    assert {t.state for t in svc.store.tasks(case_id=started.case_id)} == {"completed"}
    events = svc.store.events(started.case_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)) and result.version == len(events)
    assert verify(svc.store).ok


@pytest.mark.parametrize("cache_size", [0, 10_000])
def test_a_service_reads_cases_it_did_not_write_from_the_store(db_url: str, tmp_path, cache_size: int) -> None:  # type: ignore[no-untyped-def]
    """Cases written by another service (another process) or with no cache at all: each command reads the case
    (before its round, or within it without a cache), and a rejected command changes nothing."""
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store:
        writer = CaseService(store, clock=lambda: T0)
        writer.deploy(claim_xml())
        case_id = writer.start_case("claim", {"amount": 10}).case_id
        reader = CaseService(store, clock=lambda: T0, cache_size=cache_size)
        reader.execute(case_id, commands.CompleteItem(item="Review claim", actor="bob"))
        with pytest.raises(CommandRejected):
            reader.execute(case_id, commands.CompleteItem(item="Review claim", actor="bob"))
        writer.execute(case_id, commands.CompleteItem(item="Request documents", actor="ann"))  # its copy is stale
        reader.execute(case_id, commands.CompleteItem(item="Assess damage", actor="bob"))
        with pytest.raises(NotFound):
            reader.execute("no-such-case", commands.CompleteItem(item="Assess damage", actor="bob"))
        assert [e.actor for e in store.events(case_id) if e.payload.get("transition") == "complete"] == [
            "bob", "ann", "bob"]
        assert_stored_state_is_the_log(store, case_id)
        writer.close()
        reader.close()


def test_deploy_is_versioned_and_rejects_bad_xml(svc: CaseService) -> None:
    assert svc.deploy(claim_xml()) == ("claim", 1)  # same text: same version
    assert svc.deploy(claim_xml().replace("Insurance claim", "Insurance claim v2")) == ("claim", 2)
    with pytest.raises(ModelError):
        svc.deploy("<definitions>not cmmn")
    assert [d[:2] for d in svc.store.definitions()] == [("claim", 1), ("claim", 2)]


def test_a_start_uses_the_version_another_service_deployed_last(svc: CaseService) -> None:
    assert svc.store.case(svc.start_case("claim", {}).case_id).definition_version == 1  # type: ignore[union-attr]
    other = CaseService(svc.store)  # as another process would: its own caches, the same database
    other.deploy(claim_xml().replace("Insurance claim", "Insurance claim v2"))
    row = svc.store.case(svc.start_case("claim", {}).case_id)
    assert row is not None and row.definition_version == 2
    assert svc.definition("claim")[1].name == "Insurance claim v2"
    with pytest.raises(NotFound, match="no definition 'nope'"):
        svc.start_case("nope", {})


def test_business_key_and_idempotency_key_return_existing_case(svc: CaseService) -> None:
    first = svc.start_case("claim", {"amount": 10}, business_key="CLM-1")
    again = svc.start_case("claim", {"amount": 99}, business_key="CLM-1")
    assert (again.case_id, again.created) == (first.case_id, False)
    a = svc.start_case("claim", {"amount": 10}, idempotency_key="req-7")
    b = svc.start_case("claim", {"amount": 10}, idempotency_key="req-7")
    assert a.case_id == b.case_id and a.created and not b.created
    assert svc.store.counts()[0] == 2
    given = svc.start_case("claim", {"amount": 1}, case_id="my-case-1")
    assert given.case_id == "my-case-1"


def test_losing_the_race_on_a_business_key_returns_the_winners_case(
    svc: CaseService, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = svc.start_case("claim", {}, business_key="CLM-9")
    real = svc._existing
    calls: list[str | None] = []

    def racing(business_key: str | None, idempotency_key: str | None) -> object:
        calls.append(business_key)  # the first look ran before the winner committed: it saw nothing
        return None if len(calls) == 1 else real(business_key, idempotency_key)

    monkeypatch.setattr(svc, "_existing", racing)
    again = svc.start_case("claim", {}, business_key="CLM-9")
    assert (again.case_id, again.created, len(calls)) == (first.case_id, False, 2)
    with pytest.raises(Conflict, match="already exists"):
        svc.start_case("claim", {}, case_id=first.case_id)
    assert svc.store.counts() == (1, first.version)


def test_bad_input_changes_nothing(svc: CaseService) -> None:
    started = svc.start_case("claim", {"amount": 10})
    before = svc.store.counts()
    with pytest.raises(NotFound):
        svc.start_case("no-such-model", {})
    with pytest.raises(NotFound):
        svc.execute("no-such-case", commands.CompleteItem(item="Review claim"))
    with pytest.raises(CommandRejected):
        svc.execute(started.case_id, commands.CompleteItem(item="Close claim"))
    with pytest.raises(InvalidInput):
        svc.start_case("claim", {}, case_id="bad id with spaces")
    assert svc.store.counts() == before
    assert verify(svc.store).ok


def test_timers_become_jobs_and_fire(svc: CaseService) -> None:
    svc.deploy(TIMER_MODEL)
    started = svc.start_case("timed", {})
    jobs = svc.store.jobs(case_id=started.case_id, kind="timer")
    assert len(jobs) == 1 and jobs[0].due_at == T0 + timedelta(hours=1)
    claimed = svc.store.claim_jobs("w1", T0 + timedelta(hours=2))
    assert [j.id for j in claimed] == [jobs[0].id]
    svc.execute(started.case_id, commands.FireDueTimers(), now=T0 + timedelta(hours=2))
    assert svc.store.jobs(case_id=started.case_id) == []  # the timer occurred: its job is gone
    names = {t.name for t in svc.store.tasks(case_id=started.case_id, states=("active",))}
    assert names == {"Work", "Chase up"}


def test_participants_projection(svc: CaseService) -> None:
    started = svc.start_case("claim", {"amount": 10})
    svc.execute(started.case_id, commands.AddParticipant(user="carol", role="specialist"))
    assert svc.store.participants(started.case_id) == [("carol", "specialist")]
    svc.execute(started.case_id, commands.RemoveParticipant(user="carol"))
    assert svc.store.participants(started.case_id) == []


def _queue(svc: CaseService, group: str) -> list[tuple[str, str]]:
    return [(t.case_id, t.name or "") for t in svc.store.tasks(candidate_group=group, states=("active",))]


def test_candidate_groups_become_group_queues(svc: CaseService) -> None:
    svc.deploy(TIMER_MODEL)  # Work: clerks and seniors; Chase up: clerks
    a = svc.start_case("timed", {}, case_id="a").case_id
    b = svc.start_case("timed", {}, case_id="b").case_id
    assert _queue(svc, "clerks") == _queue(svc, "seniors") == [(a, "Work"), (b, "Work")]
    assert _queue(svc, "fraud") == []
    (work,) = svc.store.tasks(case_id=a, states=("active",))
    assert work.candidate_groups == ("clerks", "seniors")

    svc.execute(a, commands.CompleteItem(item="Work", actor="ann"))
    assert _queue(svc, "seniors") == [(b, "Work")]  # a completed task leaves every queue it was in
    svc.execute(a, commands.AddItem(kind="humanTask", name="Check for fraud", candidate_groups=("fraud", "seniors"),
                                    actor="ann", reason="odd receipts"))
    assert _queue(svc, "fraud") == [(a, "Check for fraud")]
    assert _queue(svc, "seniors") == [(a, "Check for fraud"), (b, "Work")]
    svc.execute(b, commands.FireDueTimers(), now=T0 + timedelta(hours=2))  # Chase up (clerks) starts
    assert sorted(_queue(svc, "clerks")) == [(b, "Chase up"), (b, "Work")]
    svc.execute(a, commands.TerminateItem(item="Check for fraud", actor="ann", reason="receipts fine"))
    assert _queue(svc, "fraud") == []
    for case_id in (a, b):
        assert_stored_state_is_the_log(svc.store, case_id)


def _offered(svc: CaseService, user: str, unassigned: bool = False) -> list[tuple[str, str]]:
    tasks = svc.store.tasks(candidate_user=user, unassigned=unassigned, states=("active", "enabled"))
    return [(t.case_id, t.name or "") for t in tasks]


def test_candidate_users_are_offered_open_tasks(svc: CaseService) -> None:
    svc.deploy(TIMER_MODEL)  # Chase up: candidate users dan and erin
    a = svc.start_case("timed", {}, case_id="a").case_id
    b = svc.start_case("timed", {}, case_id="b").case_id
    assert _offered(svc, "dan") == []  # Chase up waits for its timer: nothing to work on yet
    for case_id in (a, b):
        svc.execute(case_id, commands.FireDueTimers(), now=T0 + timedelta(hours=2))
    assert _offered(svc, "dan") == _offered(svc, "erin") == [(a, "Chase up"), (b, "Chase up")]
    (chase,) = svc.store.tasks(case_id=a, candidate_user="dan")
    assert (chase.candidate_users, chase.candidate_groups) == (("dan", "erin"), ("clerks",))

    svc.execute(a, commands.Reassign(item="Chase up", to="erin", actor="erin", reason="claimed"))
    assert _offered(svc, "dan", unassigned=True) == [(b, "Chase up")]  # claimed: no longer left to claim
    assert _offered(svc, "dan") == [(a, "Chase up"), (b, "Chase up")]  # still offered to dan until it ends
    svc.execute(a, commands.CompleteItem(item="Chase up", actor="erin"))
    assert _offered(svc, "erin") == [(b, "Chase up")]  # a completed task leaves every list it was in
    svc.execute(b, commands.AddItem(kind="humanTask", name="Second opinion", candidate_users=(" dan ", "", "dan"),
                                    actor="ann", reason="unclear photos"))
    assert _offered(svc, "dan") == [(b, "Chase up"), (b, "Second opinion")]
    svc.execute(b, commands.TerminateItem(item="Second opinion", actor="ann", reason="photos fine"))
    assert _offered(svc, "dan") == [(b, "Chase up")]
    for case_id in (a, b):
        assert_stored_state_is_the_log(svc.store, case_id)


@pytest.mark.parametrize("field", ["candidate_groups", "candidate_users"])
def test_bad_candidates_are_refused_and_change_nothing(svc: CaseService, field: str) -> None:
    started = svc.start_case("claim", {"amount": 10})
    before = svc.store.counts()
    what = field.removeprefix("candidate_").removesuffix("s")
    with pytest.raises(CommandRejected, match=f"only a humanTask has candidate {what}s"):
        svc.execute(started.case_id, commands.AddItem(kind="milestone", name="Paid", **{field: ("clerks",)}))
    with pytest.raises(CommandRejected, match=f"candidate {what} name cannot contain a comma"):
        svc.execute(started.case_id, commands.AddItem(kind="humanTask", name="X", **{field: ("a,b",)}))
    assert svc.store.counts() == before
    assert svc.store.tasks(candidate_group="clerks") == svc.store.tasks(candidate_user="clerks") == []


def test_migration_queues_tasks_by_the_new_models_groups(svc: CaseService) -> None:
    started = svc.start_case("claim", {"amount": 10})
    assert _queue(svc, "adjusters") == []
    xml = claim_xml()
    if 'xmlns:flowable="http://flowable.org/cmmn"' not in xml:
        xml = xml.replace("<definitions ", '<definitions xmlns:flowable="http://flowable.org/cmmn" ', 1)
    review = '<humanTask id="review" name="Review claim"'
    key, version = svc.deploy(xml.replace(review, review + ' flowable:candidateGroups="adjusters"'))
    _, target = svc.definition(key, version)
    svc.execute(started.case_id, commands.Migrate(definition=target, reason="queue reviews"))
    assert _queue(svc, "adjusters") == [(started.case_id, "Review claim")]
    svc.execute(started.case_id, commands.CompleteItem(item="Review claim"))
    assert _queue(svc, "adjusters") == []


def test_due_dates_become_sla_jobs(svc: CaseService) -> None:
    started = svc.start_case("claim", {"amount": 10})
    svc.execute(started.case_id, commands.SetDue(item="Review claim", due="P2D"))
    svc.execute(started.case_id, commands.SetDue(item=None, due="2024-06-01T00:00:00+00:00"))
    jobs = {j.ref: j.due_at for j in svc.store.jobs(case_id=started.case_id, kind="sla")}
    assert len(jobs) == 2 and jobs["case"].isoformat() == "2024-06-01T00:00:00+00:00"
    assert T0 + timedelta(days=2) in jobs.values()
    overdue = svc.store.tasks(states=("active",), due_before=T0 + timedelta(days=3))
    assert [t.name for t in overdue] == ["Review claim"]
    svc.execute(started.case_id, commands.CompleteItem(item="Review claim"))
    assert [j.ref for j in svc.store.jobs(case_id=started.case_id, kind="sla")] == ["case"]


def test_migration_moves_the_case_row_to_the_new_version(svc: CaseService) -> None:
    from casework.engine import Event, replay

    started = svc.start_case("claim", {"amount": 10})
    key, version = svc.deploy(claim_xml().replace('name="Close claim"', 'name="Close and archive claim"'))
    _, target = svc.definition(key, version)
    svc.execute(started.case_id, commands.Migrate(definition=target, reason="new model"))
    row = svc.store.case(started.case_id)
    assert row is not None and (row.definition_key, row.definition_version) == ("claim", 2)
    svc.execute(started.case_id, commands.CompleteItem(item="Review claim"))
    events = [Event.from_dict(e.engine_dict()) for e in svc.store.events(started.case_id)]
    assert replay(target, started.case_id, events).to_dict() == svc.state(started.case_id).to_dict()
    assert_stored_state_is_the_log(svc.store, started.case_id)


def test_closing_the_service_seals_its_events(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store:
        with CaseService(store, clock=lambda: T0) as service:
            service.deploy(claim_xml())
            case = service.start_case("claim", {"amount": 10})
            service.execute(case.case_id, commands.CompleteItem(item="Review claim", actor="bob"))
            assert verify(store).sealed_events == 0  # far from the 1000 events that seal on their own
        report = verify(store)
        assert report.ok and report.checkpoints == 1
        assert report.sealed_events == report.events == len(store.events(case.case_id))


def test_a_failed_checkpoint_does_not_fail_the_durable_command_and_the_next_one_seals_its_events(
    db_url: str, tmp_path, caplog  # type: ignore[no-untyped-def]
) -> None:
    with Store.open(db_url, audit_key=tmp_path / "audit.key") as store:
        service = CaseService(store, clock=lambda: T0, checkpoint_every=1)
        service.deploy(claim_xml())
        real_flush = service.checkpointer.flush

        def broken() -> int | None:
            raise OSError("disk full")

        service.checkpointer.flush = broken  # type: ignore[method-assign]
        case = service.start_case("claim", {"amount": 10})
        result = service.execute(case.case_id, commands.CompleteItem(item="Review claim", actor="bob"))
        assert result.events and len(store.events(case.case_id)) == result.version
        assert "writing an audit checkpoint failed" in caplog.text
        assert verify(store).sealed_events == 0
        service.checkpointer.flush = real_flush  # type: ignore[method-assign]
        service.execute(case.case_id, commands.CompleteItem(item="Request documents", actor="bob"))
        report = verify(store)
        assert report.ok and report.sealed_events == report.events == len(store.events(case.case_id))
        service.close()


def test_a_user_named_with_spaces_around_gets_the_task_in_their_inbox(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}, actor="ann").case_id
    svc.execute(case_id, commands.Reassign(item="Review claim", to=" bob ", actor="ann", reason="bob knows it"))
    svc.execute(case_id, commands.AddItem(kind="humanTask", name="Call garage", assignee="bob\n", actor="ann"))
    assert sorted(t.name for t in svc.store.tasks(owner="bob")) == ["Call garage", "Review claim"]
    with pytest.raises(CommandRejected, match="already assigned to bob"):
        svc.execute(case_id, commands.Reassign(item="Review claim", to="bob", actor="ann"))
    with pytest.raises(CommandRejected, match="reassign needs a user"):
        svc.execute(case_id, commands.Reassign(item="Review claim", to="  ", actor="ann"))


def test_skipped_work_is_not_listed_as_done(svc: CaseService) -> None:
    case_id = svc.start_case("claim", {"amount": 10}, actor="ann").case_id
    svc.execute(case_id, commands.CompleteItem(item="Review claim", actor="bob"))
    svc.execute(case_id, commands.SkipItem(item="Request documents", actor="ann", reason="documents came in by post"))
    skipped = svc.store.tasks(case_id=case_id, states=("skipped",))
    assert [t.name for t in skipped] == ["Request documents"]
    assert [t.name for t in svc.store.tasks(case_id=case_id, states=("completed",))] == ["Review claim"]
    # What waited for it goes on, as after a completion.
    assert [t.name for t in svc.store.tasks(case_id=case_id, states=("active",))] == ["Assess damage"]
    assert_stored_state_is_the_log(svc.store, case_id)



def _triggered_timer(trigger: str) -> str:
    start = (f'<planItemStartTrigger sourceRef="{trigger}"><standardEvent>complete</standardEvent>'
             "</planItemStartTrigger>")
    extra = '<planItem id="piCheck" name="Check" definitionRef="check"/><humanTask id="check" name="Check"/>'
    expression = "<timerExpression>PT1H</timerExpression>"
    work = '<humanTask id="work"'
    return TIMER_MODEL.replace(expression, expression + start).replace(work, extra + work)


def test_a_timer_a_migration_unschedules_loses_its_job_and_gets_it_back_when_its_new_trigger_happens(
    svc: CaseService,
) -> None:
    # The model's timer waits for "Work"; the new one for "Check".
    svc.deploy(_triggered_timer("piWork"))
    case_id = svc.start_case("timed", {}).case_id
    assert svc.store.jobs(case_id=case_id, kind="timer") == []  # waits for its trigger
    svc.execute(case_id, commands.CompleteItem(item="Work"), now=T0 + timedelta(minutes=10))
    (job,) = svc.store.jobs(case_id=case_id, kind="timer")
    assert job.due_at == T0 + timedelta(minutes=70)
    assert [j.id for j in svc.store.claim_jobs("w1", T0 + timedelta(hours=2))] == [job.id]  # a worker holds it
    key, version = svc.deploy(_triggered_timer("piCheck"))
    _, target = svc.definition(key, version)
    result = svc.execute(case_id, commands.Migrate(definition=target), now=T0 + timedelta(minutes=20))
    assert "timer_cancelled" in [e.type for e in result.events]
    assert svc.store.jobs(case_id=case_id, kind="timer") == []  # dropped, though a worker had claimed it
    # The worker that held it fires what is due: nothing is, the timer waits for its new trigger.
    fired = svc.execute(case_id, commands.FireDueTimers(), now=T0 + timedelta(hours=2))
    assert not [e for e in fired.events if e.payload.get("transition") == "occur"]
    svc.execute(case_id, commands.CompleteItem(item="Check"), now=T0 + timedelta(hours=3))
    (rearmed,) = svc.store.jobs(case_id=case_id, kind="timer")
    assert rearmed.due_at == T0 + timedelta(hours=4) and rearmed.claimed_by is None
    assert_stored_state_is_the_log(svc.store, case_id)
