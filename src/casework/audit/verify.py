"""`verify`: recompute every hash chain and every signed checkpoint, and name the first broken link."""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from casework.audit.checkpoints import Checkpoint, checkpoints, load_or_create_key, message, parse_public_key
from casework.audit.hashing import GENESIS, event_hash, running_hash
from casework.store import Store
from casework.store import schema as t

MAX_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    case_id: str | None
    seq: int | None
    event_id: int | None
    what: str

    def __str__(self) -> str:
        where = f"case {self.case_id}" if self.case_id else "log"
        if self.seq is not None:
            where += f" seq {self.seq}"
        if self.event_id is not None:
            where += f" (event #{self.event_id})"
        return f"{where}: {self.what}"


@dataclass
class Report:
    cases: int = 0
    events: int = 0
    checkpoints: int = 0
    sealed_events: int = 0  # events covered by a signed checkpoint
    signatures_checked: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def summary(self) -> str:
        if self.ok:
            return f"audit: {self.cases} cases, {self.events} events, ok"
        return f"audit: {self.cases} cases, {self.events} events, BROKEN at {self.first}"


def verify(store: Store, public_key: str | Ed25519PublicKey | None = None) -> Report:
    """Check every case's chain (seq, prev_hash, hash, case row head) and every checkpoint (running hash, signature).

    `public_key` (hex, key file, or key object) checks signatures; by default the store's configured key file is
    used if it exists. Problems are ordered by the global position of the event they concern, first is first.
    """
    report = Report()
    key = _public_key(store, public_key)
    report.signatures_checked = key is not None
    heads = _case_heads(store)
    report.cases = len(heads)
    problems: list[tuple[int, Problem]] = []
    seen_cases: set[str] = set()

    # Pass 1, per case in seq order: each event must hash to its stored hash and link to the one before it.
    current: str | None = None
    expect_seq, prev = 1, GENESIS
    broken_case = False

    def close_case(case_id: str | None, last_seq: int, last_hash: str, last_id: int) -> None:
        if case_id is None or broken_case:
            return
        head = heads.get(case_id)
        if head is None:
            problems.append((last_id, Problem(case_id, None, None, "events belong to no case row")))
        elif head != (last_seq, last_hash):
            problems.append(
                (
                    last_id,
                    Problem(
                        case_id,
                        last_seq + 1 if head[0] > last_seq else last_seq,
                        None,
                        f"case row says the chain ends at seq {head[0]} but the events end at seq {last_seq}"
                        " (events removed or appended past the case row)",
                    ),
                )
            )

    last_id = 0
    stream = store.iter_events(order="case")
    for ev in stream:
        report.events += 1
        if ev.case_id != current:
            close_case(current, expect_seq - 1, prev, last_id)
            current, expect_seq, prev, broken_case = ev.case_id, 1, GENESIS, False
            seen_cases.add(ev.case_id)
        last_id = ev.id
        if broken_case:
            continue
        what = None
        if ev.seq != expect_seq:
            what = f"expected seq {expect_seq}, found seq {ev.seq}: events {expect_seq}..{ev.seq - 1} are missing"
            bad_seq = expect_seq
        elif ev.prev_hash != prev:
            what = "prev_hash does not match the hash of the event before it (event inserted, removed or moved)"
            bad_seq = ev.seq
        else:
            recomputed = event_hash(
                case_id=ev.case_id, seq=ev.seq, type=ev.type, at=ev.at, actor=ev.actor,
                reason=ev.reason, payload=ev.payload, prev_hash=ev.prev_hash,
            )
            if recomputed != ev.hash:
                what = "content does not match its hash (event edited)"
                bad_seq = ev.seq
        if what is not None:
            problems.append((ev.id, Problem(ev.case_id, bad_seq, ev.id if bad_seq == ev.seq else None, what)))
            broken_case = True  # later links of this case follow from the first break
            continue
        expect_seq, prev = ev.seq + 1, ev.hash
    close_case(current, expect_seq - 1, prev, last_id)
    for case_id, (version, _) in heads.items():
        if case_id not in seen_cases and version > 0:
            problems.append((0, Problem(case_id, 1, None, f"case row says {version} events but none are stored")))

    # Pass 2, global order: the running hash must reach each checkpoint's signed value.
    broken = {p.case_id for _, p in problems if p.case_id is not None}
    problems.extend(_check_checkpoints(store, key, report, broken))
    problems.sort(key=lambda p: p[0])
    report.problems = [p for _, p in problems[:MAX_PROBLEMS]]
    return report


def _public_key(store: Store, given: str | Ed25519PublicKey | None) -> Ed25519PublicKey | None:
    if isinstance(given, Ed25519PublicKey):
        return given
    if given:
        return parse_public_key(given)
    if store.audit_key_path.exists():
        return load_or_create_key(store.audit_key_path).public_key()
    return None


def _case_heads(store: Store) -> dict[str, tuple[int, str]]:
    with store.read() as conn:
        rows = conn.execute(select(t.cases.c.id, t.cases.c.version, t.cases.c.last_hash))
        return {r.id: (int(r.version), r.last_hash) for r in rows}


def _check_checkpoints(
    store: Store, key: Ed25519PublicKey | None, report: Report, broken: set[str]
) -> list[tuple[int, Problem]]:
    with store.read() as conn:
        cps = checkpoints(conn)
    report.checkpoints = len(cps)
    problems: list[tuple[int, Problem]] = []
    for cp in cps:
        if key is not None:
            try:
                key.verify(bytes.fromhex(cp.signature), message(cp.last_event_id, cp.running_hash, cp.heads_json))
            except (InvalidSignature, ValueError):
                bad = Problem(None, None, None, f"checkpoint #{cp.id} signature is invalid (forged or edited)")
                problems.append((cp.last_event_id, bad))
                return problems
    if not cps:
        return problems
    running, index = GENESIS, 0
    # Heads recomputed per checkpoint range, to name the case whose chain no longer matches what was signed.
    rng = _Range()
    prev_signed: dict[str, int] = {}
    with closing(store.iter_events(order="id")) as stream:
        for ev in stream:
            while index < len(cps) and ev.id > cps[index].last_event_id:
                problems.extend(_close_range(cps[index], running, rng, prev_signed, broken))
                # Resynchronise on the signed value so that each sealed range is judged on its own.
                running, rng, index = cps[index].running_hash, _Range(), index + 1
            running = running_hash(running, ev.hash)
            rng.add(ev.case_id, ev.seq, ev.hash, ev.id)
    while index < len(cps):
        problems.extend(_close_range(cps[index], running, rng, prev_signed, broken))
        running, rng, index = cps[index].running_hash, _Range(), index + 1
    with store.read() as conn:
        report.sealed_events = int(
            conn.execute(
                select(func.count()).select_from(t.events).where(t.events.c.id <= cps[-1].last_event_id)
            ).scalar_one()
        )
    return problems


@dataclass
class _Range:
    heads: dict[str, list[Any]] = field(default_factory=dict)
    first_id: dict[str, int] = field(default_factory=dict)

    def add(self, case_id: str, seq: int, digest: str, event_id: int) -> None:
        self.heads[case_id] = [seq, digest]
        self.first_id.setdefault(case_id, event_id)


def _close_range(
    cp: Checkpoint, running: str, rng: _Range, prev_signed: dict[str, int], broken: set[str]
) -> list[tuple[int, Problem]]:
    signed_heads = {case_id: [int(v[0]), v[1]] for case_id, v in cp.heads.items()}
    if running == cp.running_hash:
        for case_id, (seq, _) in signed_heads.items():
            prev_signed[case_id] = seq
        return []
    out: list[tuple[int, Problem]] = []
    for case_id in sorted(set(signed_heads) | set(rng.heads), key=lambda c: rng.first_id.get(c, cp.last_event_id)):
        signed = signed_heads.get(case_id)
        if rng.heads.get(case_id) == signed:
            continue
        if case_id in broken:  # its own chain check already named the exact event
            continue
        if signed is None:
            what = f"events were added to the range sealed by checkpoint #{cp.id} (inserted into the sealed log)"
            out.append((rng.first_id.get(case_id, cp.last_event_id), Problem(case_id, None, None, what)))
            continue
        first = prev_signed.get(case_id, 0) + 1
        last = signed[0]
        span = f"seq {first}" if first == last else f"one of seq {first}..{last}"
        what = (
            f"chain re-hashed after it was sealed: checkpoint #{cp.id} signed a different hash for seq {last};"
            f" the edited event is {span}"
        )
        out.append((rng.first_id.get(case_id, cp.last_event_id), Problem(case_id, first, None, what)))
    for case_id, (seq, _) in signed_heads.items():
        prev_signed[case_id] = seq
    if not out and not (set(signed_heads) | set(rng.heads)) & broken:
        what = f"events up to #{cp.last_event_id} do not add up to checkpoint #{cp.id} (sealed log changed)"
        out.append((cp.last_event_id, Problem(None, None, None, what)))
    return out


def report_json(report: Report) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "cases": report.cases,
            "events": report.events,
            "checkpoints": report.checkpoints,
            "sealed_events": report.sealed_events,
            "signatures_checked": report.signatures_checked,
            "problems": [str(p) for p in report.problems],
        }
    )
