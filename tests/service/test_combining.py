"""The combiner: rounds, one request per case in a round, outcomes to their owners, the turn passed on."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from casework.service.combining import Combiner, Request


class Recorder:
    """A `run_round` that doubles each payload, records each round (keys and thread), and can hold a round until
    the test lets it go."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.rounds: list[tuple[list[str], int]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.in_round = threading.Event()
        self.fail_on = fail_on

    def __call__(self, requests: list[Request]) -> None:
        self.rounds.append(([r.key for r in requests], threading.get_ident()))
        self.in_round.set()
        assert self.hold.wait(timeout=30)
        if self.fail_on is not None and any(r.key == self.fail_on for r in requests):
            requests[0].result = "done before the failure"
            raise RuntimeError("round failed")
        for r in requests:
            r.result = r.payload * 2


def wait_queued(combiner: Combiner, n: int) -> None:
    deadline = time.monotonic() + 30
    while len(combiner._queue) < n:
        assert time.monotonic() < deadline, "requests never queued"
        time.sleep(0.001)


def start(combiner: Combiner, key: str, payload: Any, out: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        try:
            request = combiner.run(key, payload)
            out[f"{key}:{payload}"] = request.error or request.result
        except BaseException as exc:
            out[f"{key}:{payload}"] = ("raised", exc)

    th = threading.Thread(target=run)
    th.start()
    return th


def test_alone_the_caller_runs_its_own_request_at_once() -> None:
    rec = Recorder()
    combiner = Combiner(rec)
    request = combiner.run("a", 21)
    assert request.result == 42 and request.error is None
    assert rec.rounds == [(["a"], threading.get_ident())]


def test_requests_that_arrive_during_a_round_form_the_next_one_and_each_owner_gets_its_own_outcome() -> None:
    rec = Recorder()
    combiner = Combiner(rec)
    rec.hold.clear()
    out: dict[str, Any] = {}
    first = start(combiner, "k0", 0, out)
    assert rec.in_round.wait(timeout=30)
    others = [start(combiner, f"k{i}", i, out) for i in range(1, 8)]
    wait_queued(combiner, 7)
    rec.hold.set()
    for th in [first, *others]:
        th.join(timeout=30)
    assert [keys for keys, _ in rec.rounds] == [["k0"], [f"k{i}" for i in range(1, 8)]]
    assert out == {f"k{i}:{i}": 2 * i for i in range(8)}
    assert combiner.rounds == 2 and combiner.requests == 8


def test_a_round_holds_one_request_per_case_and_later_ones_keep_their_order() -> None:
    rec = Recorder()
    combiner = Combiner(rec)
    rec.hold.clear()
    out: dict[str, Any] = {}
    threads = [start(combiner, "x", 0, out)]
    assert rec.in_round.wait(timeout=30)
    for n, (key, payload) in enumerate([("a", 1), ("a", 2), ("b", 3), ("a", 4)], start=1):
        threads.append(start(combiner, key, payload, out))
        wait_queued(combiner, n)
    rec.hold.set()
    for th in threads:
        th.join(timeout=30)
    assert [keys for keys, _ in rec.rounds] == [["x"], ["a", "b"], ["a"], ["a"]]
    assert out == {"x:0": 0, "a:1": 2, "a:2": 4, "b:3": 6, "a:4": 8}


def test_after_its_last_round_a_thread_hands_the_turn_to_the_oldest_waiting_owner() -> None:
    rec = Recorder()
    combiner = Combiner(rec, max_rounds=1)
    rec.hold.clear()
    out: dict[str, Any] = {}
    first = start(combiner, "a", 1, out)
    assert rec.in_round.wait(timeout=30)
    second = start(combiner, "b", 2, out)
    wait_queued(combiner, 1)
    third = start(combiner, "c", 3, out)
    wait_queued(combiner, 2)
    rec.hold.set()
    for th in (first, second, third):
        th.join(timeout=30)
    # The first thread ran its own round only; "b"'s owner took the turn and ran itself with "c".
    assert [keys for keys, _ in rec.rounds] == [["a"], ["b", "c"]]
    assert rec.rounds[0][1] != rec.rounds[1][1]
    assert out == {"a:1": 2, "b:2": 4, "c:3": 6}
    assert not combiner._busy


def test_a_failing_round_fails_its_requests_without_outcome_and_the_next_callers_still_run() -> None:
    rec = Recorder(fail_on="bad")
    combiner = Combiner(rec)
    rec.hold.clear()
    out: dict[str, Any] = {}
    first = start(combiner, "x", 1, out)
    assert rec.in_round.wait(timeout=30)
    queued = [start(combiner, key, n, out) for n, key in enumerate(["bad", "fine"], start=2)]
    wait_queued(combiner, 2)
    rec.hold.set()
    for th in [first, *queued]:
        th.join(timeout=30)
    assert out["x:1"] == 2
    assert out["bad:2"] == "done before the failure"  # set before the round raised: kept
    assert isinstance(out["fine:3"], RuntimeError)
    assert not combiner._busy
    assert combiner.run("later", 5).result == 10


def test_the_running_thread_gets_its_round_failure_as_its_request_error_not_raised() -> None:
    def failing(requests: list[Request]) -> None:
        raise ValueError("broken round")

    combiner = Combiner(failing)
    request = combiner.run("a", 1)
    assert isinstance(request.error, ValueError) and request.result is None
    assert not combiner._busy


def test_an_interrupt_in_a_round_reaches_the_running_thread_and_frees_the_turn() -> None:
    def interrupted(requests: list[Request]) -> None:
        raise KeyboardInterrupt

    combiner = Combiner(interrupted)
    with pytest.raises(KeyboardInterrupt):
        combiner.run("a", 1)
    assert not combiner._busy


def test_an_owner_interrupted_while_queued_is_never_handed_the_turn_and_its_command_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = Recorder()
    combiner = Combiner(rec, max_rounds=1)
    rec.hold.clear()
    real_wait = Request._wait

    def interrupted_wait(self: Request) -> None:
        if self.payload == 2:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while it waited
        real_wait(self)

    monkeypatch.setattr(Request, "_wait", interrupted_wait)
    out: dict[str, Any] = {}
    first = start(combiner, "a", 1, out)
    assert rec.in_round.wait(timeout=30)
    start(combiner, "b", 2, out).join(timeout=30)
    assert isinstance(out["b:2"], tuple) and isinstance(out["b:2"][1], KeyboardInterrupt)
    third = start(combiner, "c", 3, out)
    wait_queued(combiner, 2)
    rec.hold.set()
    for th in (first, third):
        th.join(timeout=30)
    # "b" was the oldest waiting but its owner had stopped waiting: "c"'s owner got the turn and ran both.
    assert [keys for keys, _ in rec.rounds] == [["a"], ["c", "b"]]
    assert rec.rounds[1][1] != rec.rounds[0][1]
    assert out["a:1"] == 2 and out["c:3"] == 6
    assert not combiner._busy and not combiner._queue


def test_an_owner_interrupted_just_as_it_is_handed_the_turn_runs_its_round_before_raising(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rec = Recorder()
    combiner = Combiner(rec, max_rounds=1)
    rec.hold.clear()
    real_wait = Request._wait

    def wait_then_interrupted(self: Request) -> None:
        real_wait(self)
        if self.payload == 2:
            raise KeyboardInterrupt  # arrived right after the wake-up

    monkeypatch.setattr(Request, "_wait", wait_then_interrupted)
    out: dict[str, Any] = {}
    first = start(combiner, "a", 1, out)
    assert rec.in_round.wait(timeout=30)
    second = start(combiner, "b", 2, out)
    wait_queued(combiner, 1)
    third = start(combiner, "c", 3, out)
    wait_queued(combiner, 2)
    rec.hold.set()
    for th in (first, second, third):
        th.join(timeout=30)
    assert [keys for keys, _ in rec.rounds] == [["a"], ["b", "c"]]
    assert isinstance(out["b:2"], tuple) and isinstance(out["b:2"][1], KeyboardInterrupt)
    assert out["c:3"] == 6
    assert not combiner._busy
    assert combiner.run("d", 4).result == 8


def test_run_all_alone_runs_the_group_in_the_calling_thread_one_request_per_case_a_round() -> None:
    rec = Recorder()
    combiner = Combiner(rec)
    group = [Request("a", 1), Request("b", 2), Request("a", 3)]
    combiner.run_all(group)
    assert [r.result for r in group] == [2, 4, 6]
    assert rec.rounds == [(["a", "b"], threading.get_ident()), (["a"], threading.get_ident())]
    assert not combiner._busy and not combiner._queue


def test_run_all_while_a_thread_holds_the_turn_joins_its_rounds_and_is_never_handed_the_turn() -> None:
    rec = Recorder()
    combiner = Combiner(rec, max_rounds=1)
    rec.hold.clear()
    out: dict[str, Any] = {}
    first = start(combiner, "x", 1, out)
    assert rec.in_round.wait(timeout=30)
    group = [Request("a", 2), Request("b", 3)]
    grouped = threading.Thread(target=combiner.run_all, args=(group,))
    grouped.start()
    wait_queued(combiner, 2)
    rec.hold.set()
    for th in (first, grouped):
        th.join(timeout=30)
    # Its last round over, the first thread found only the group's requests waiting, whose owner waits for all of
    # them: it ran them itself instead of handing the turn over.
    assert [keys for keys, _ in rec.rounds] == [["x"], ["a", "b"]]
    assert rec.rounds[0][1] == rec.rounds[1][1]
    assert out == {"x:1": 2} and [r.result for r in group] == [4, 6]
    assert not combiner._busy
