"""Small synthetic event logs with known structure, written to tmp_path as the real logs are (CSV, gzip)."""

from __future__ import annotations

import csv
import gzip
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

Row = tuple[str, str, str, str]


def write_log(path: Path, rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> Path:
    header = header or ("case_id", "activity", "timestamp", "resource")
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="", encoding="utf-8") as handle:  # type: ignore[operator]
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def timing_log(n_cases: int = 600, seed: int = 3) -> list[Row]:
    """Claims: after `Assess damage` a quick case (under an hour) goes to `Approve`, a slow one to `Request documents`.

    The order of activities alone cannot tell the two apart; the time since the last event can.
    Remaining time: slow cases take ten days more.
    """
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, 8, 0, 0)
    rows: list[Row] = []
    for i in range(n_cases):
        t = start + timedelta(hours=6 * i)
        quick = rng.random() < 0.5
        events = [("Register claim", t)]
        t += timedelta(minutes=rng.randint(5, 30))
        events.append(("Assess damage", t))
        t += timedelta(minutes=rng.randint(1, 50)) if quick else timedelta(hours=rng.randint(3, 30))
        if quick:
            events.append(("Approve", t))
        else:
            events.append(("Request documents", t))
            t += timedelta(days=10)
            events.append(("Approve", t))
        t += timedelta(hours=1)
        events.append(("Pay", t))
        for activity, when in events:
            rows.append((f"c{i}", activity, when.isoformat(), "ann" if quick else "bob"))
    return rows


def registered_claim(tmp_path: Path, amount: int, now: datetime) -> tuple[str, str]:
    """A SQLite store holding one demo insurance claim, registered at `now`: (database URL, case id)."""
    from casework.demo import demo_model_xml
    from casework.engine import commands
    from casework.service import CaseService
    from casework.store import Store

    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with Store.open(url) as store:
        service = CaseService(store)
        key, _ = service.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = service.start_case(key, {"amount": amount}, actor="ann", now=now).case_id
        service.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann"), now)
    return url, case_id


def markov_log(n_cases: int = 100, seed: int = 100, activities: int = 8) -> list[Row]:
    """Cases whose next step depends on the last step alone (a first-order chain: each step's usual successor 60% of
    the time, two others 20% and 10%, any step 10%), at random times by random performers: nothing a model can
    learn beyond the last activity, so the last-activity model is the best there is."""
    rng = random.Random(seed)
    successors = {a: [rng.randrange(activities) for _ in range(3)] for a in range(activities)}
    start = datetime(2019, 1, 7, 8, 0, 0)
    rows: list[Row] = []
    for i in range(n_cases):
        t = start + timedelta(hours=3 * i, minutes=rng.randint(0, 59))
        step = 0
        for _ in range(rng.randint(2, 40)):
            rows.append((f"c{i}", f"Act {step}", t.isoformat(), f"res{rng.randrange(12)}"))
            r, usual = rng.random(), successors[step]
            step = usual[0] if r < 0.6 else usual[1] if r < 0.8 else usual[2] if r < 0.9 else rng.randrange(activities)
            t += timedelta(minutes=rng.randint(1, 600), seconds=rng.randint(0, 59))
    return rows
