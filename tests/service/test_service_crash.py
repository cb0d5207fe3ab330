"""kill -9 a process while it writes: everything it acknowledged is stored, and the log still verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_service import assert_stored_state_is_the_log, shared_path

from casework.audit.verify import verify
from casework.store import Store

CHILD = Path(__file__).with_name("crash_writer.py")
ROUNDS = 3
ACKS_BEFORE_KILL = 40


def _run_and_kill(url: str, key: Path, claim: Path, clients: str) -> dict[str, int]:
    acked: dict[str, int] = {}
    lines = 0
    with subprocess.Popen(
        [sys.executable, str(CHILD), url, str(key), str(claim), clients],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                _, case_id, version = line.split()
                acked[case_id] = max(acked.get(case_id, 0), int(version))
                lines += 1
                if lines >= ACKS_BEFORE_KILL:
                    break
        finally:
            # Mid-flight: other threads of the child are between engine, append and commit right now.
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
    assert acked, err
    return acked


@pytest.mark.parametrize("clients", ["threads", "asyncio"])
def test_acknowledged_commands_survive_kill_9(db_url: str, tmp_path: Path, clients: str) -> None:
    claim = shared_path("bench", "claim.cmmn")
    key = tmp_path / "audit.key"
    all_acked: dict[str, int] = {}
    for _ in range(ROUNDS):
        all_acked.update(_run_and_kill(db_url, key, claim, clients))
        with Store.open(db_url, audit_key=key) as store:
            for case_id, version in all_acked.items():
                row = store.case(case_id)
                assert row is not None, f"acknowledged case {case_id} is missing"
                assert row.version >= version, f"case {case_id}: acknowledged v{version}, stored v{row.version}"
                assert len(store.events(case_id)) == row.version
            report = verify(store)
            assert report.ok, report.problems
    with Store.open(db_url, audit_key=key) as store:
        for case_id in all_acked:
            assert_stored_state_is_the_log(store, case_id)
