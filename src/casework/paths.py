"""Where casework finds the shared corpus (CMMN models, event logs) that tests and benchmarks read."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path | None:
    """The shared data folder: $CASEWORK_SHARED, else a `shared` folder beside the repository checkout; None if
    neither exists (what needs it then says so, and tests skip)."""
    env = os.environ.get("CASEWORK_SHARED")
    if env:
        return Path(env) if Path(env).is_dir() else None
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared"
        if (candidate / "cmmn").is_dir():
            return candidate
    return None
