"""The engine benchmark's casework part runs end to end at a tiny size (no timing is asserted)."""

from __future__ import annotations

import pytest

from casework.bench_cli import BenchUnavailable, load_suite


def test_engine_bench_drives_every_claim_to_completion() -> None:
    from casework.paths import shared_dir

    if shared_dir() is None:
        pytest.skip("the shared corpus (../shared, or $CASEWORK_SHARED) is not available: the bench drives its claim")
    try:
        bench = load_suite("engine")
    except BenchUnavailable as exc:
        pytest.skip(str(exc))
    run = bench.run_casework_claims(n=10)
    assert run.statuses == ["completed"] * 10
    assert run.tasks_per_case == [4, 5] * 5  # amounts alternate 500 / 5000
    assert run.completions == 45
    run.check()
