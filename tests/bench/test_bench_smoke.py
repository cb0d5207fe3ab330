"""The benchmarks' casework parts run end to end at a tiny size (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from casework.bench_cli import BenchUnavailable, load_suite


def _suite(name: str) -> ModuleType:
    """bench/<name>.py, or a skip saying why it cannot run here."""
    from casework.paths import shared_dir

    if shared_dir() is None:
        pytest.skip("the shared corpus (../shared, or $CASEWORK_SHARED) is not available: the bench drives its claim")
    try:
        return load_suite(name)
    except BenchUnavailable as exc:
        pytest.skip(str(exc))


def test_engine_bench_drives_every_claim_to_completion() -> None:
    run = _suite("engine").run_casework_claims(n=10)
    assert run.statuses == ["completed"] * 10
    assert run.tasks_per_case == [4, 5] * 5  # amounts alternate 500 / 5000
    assert run.completions == 45
    run.check()


def test_store_floor_bench_replays_every_batch_the_run_committed(tmp_path: Path) -> None:
    """bench/store_floor.py writes the recorded batches again into the database as it was before the run: every
    completion must have gone through a batch, and every batch must pass its version checks on the copy."""
    figures = _suite("store_floor").one_repetition(tmp_path, clients=4, cases_per_client=3, raw_n=20)
    assert 1 <= figures["casework_commands_per_commit"] <= 4
    assert figures["sql_only_per_s"] > 0  # (it raises if a replayed batch fails its version check)
