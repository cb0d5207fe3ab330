"""Benchmark: what one PostgreSQL transaction of casework's costs with its bounds set per session (as before) or
per transaction (sent with the BEGIN), and with psycopg's prepared statements on or off (CASEWORK_PG_POOLER).

Not a test. Run: ``python bench/pg_transaction.py --pg postgresql://... [--slices 30] [--json]``. In one process,
on one schema of its own (dropped after; ``--schema`` uses the URL's as it is, for a URL that cannot carry a
search_path, such as a PgBouncer's whose ``connect_query`` sets it), three stores whose connections differ only in:

- ``session``: the bounds set once per connection (``set_config(..., false)``, as casework did before), plain BEGIN;
- ``transaction``: the bounds sent with each BEGIN (``set_config(..., true)``: casework now);
- ``transaction, unprepared``: as ``transaction``, and ``prepare_threshold=None`` (CASEWORK_PG_POOLER=transaction).

Each slice times, store after store (their order turning), microseconds per call of ``hot read``
(``Store.case_head``: BEGIN, one SELECT, the pool's ROLLBACK), ``read`` (``Store.read`` with one SELECT through
SQLAlchemy) and ``command`` (``CaseService.execute`` of a SetVariables: the engine and the group commit's write);
the medians over the slices are printed, and each mode's ratio to ``session``. Interleaving the modes within one
process keeps the drift of a shared machine out of the comparison.

Then the same at the protocol level, without Python's share (``bare``, libpq calls on two connections, the same
slices): BEGIN, SELECT 1, ROLLBACK with the bounds set for the session; with them sent in the BEGIN's message; and
with them sent in a round trip of their own (as a SQLAlchemy ``begin`` hook would).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "src" / "casework" / "demo" / "models" / "insurance_claim.cmmn"
MODES = ("session", "transaction", "transaction, unprepared")
KINDS = {"hot read": 200, "read": 200, "command": 20}  # calls per slice


def _as_before(engine: Any) -> None:
    """The connections of `engine` set their bounds for the session, as casework did before, and not with BEGIN."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _session_bounds(dbapi_conn: Any, _record: Any) -> None:
        settings = dbapi_conn.transaction_settings.decode().replace(", true)", ", false)")
        dbapi_conn.transaction_settings = None
        dbapi_conn.execute(settings)
        dbapi_conn.commit()


def _unprepared(engine: Any) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_prepare(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.prepare_threshold = None


def _timed(call: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1e6


def measure(url: str, slices: int) -> dict[str, dict[str, float]]:
    from sqlalchemy import text

    from casework.engine import commands
    from casework.service import CaseService
    from casework.store import Store

    samples: dict[str, dict[str, list[float]]] = {m: {k: [] for k in KINDS} for m in MODES}
    with tempfile.TemporaryDirectory() as folder:
        stores = {mode: Store.open(url, audit_key=Path(folder) / "audit.key", blob_dir=Path(folder) / "blobs")
                  for mode in MODES}
        try:
            _as_before(stores["session"].engine)
            _unprepared(stores["transaction, unprepared"].engine)
            calls: dict[str, dict[str, Callable[[], object]]] = {}
            services = []
            for mode, store in stores.items():
                store.engine.dispose()  # every connection made anew, with its mode's treatment
                svc = CaseService(store)
                services.append(svc)
                svc.deploy(MODEL.read_text(encoding="utf-8"))
                case_id = svc.start_case("insuranceClaim", {"amount": 900}).case_id
                amounts = iter(range(10**9))

                def hot_read(store: Store = store, case_id: str = case_id) -> object:
                    return store.case_head(case_id)

                def read(store: Store = store) -> None:
                    with store.read() as conn:
                        conn.execute(text("SELECT 1")).scalar_one()

                def command(svc: CaseService = svc, case_id: str = case_id, amounts: Any = amounts) -> object:
                    return svc.execute(case_id, commands.SetVariables(variables={"amount": next(amounts)},
                                                                      actor="bench"))

                calls[mode] = {"hot read": hot_read, "read": read, "command": command}
                for kind, call in calls[mode].items():  # warm: the pools' connections made, statements prepared
                    _timed(call, KINDS[kind])
            for n in range(slices):
                order = MODES[n % len(MODES):] + MODES[:n % len(MODES)]
                for kind, count in KINDS.items():
                    for mode in order:
                        samples[mode][kind].append(_timed(calls[mode][kind], count))
            for svc in services:
                svc.close()
        finally:
            for store in stores.values():
                store.close()
    return {mode: {kind: statistics.median(v) for kind, v in kinds.items()} for mode, kinds in samples.items()}


_SETTINGS = b"SELECT set_config('lock_timeout', '30000', true), set_config('statement_timeout', '600000', true)"


def _send(pgconn: Any, query: bytes) -> None:
    pgconn.send_query(query)
    while pgconn.get_result() is not None:
        pass


def bare(url: str, slices: int, n: int = 300) -> dict[str, float]:
    """Microseconds per bare transaction (BEGIN, SELECT 1, ROLLBACK) on libpq, medians over `slices`."""
    import psycopg

    with psycopg.connect(url) as session, psycopg.connect(url) as per_transaction:
        session.execute(_SETTINGS.replace(b", true)", b", false)"))
        session.commit()
        one, other = session.pgconn, per_transaction.pgconn
        ways: dict[str, tuple[Any, tuple[bytes, ...]]] = {
            "session": (one, (b"BEGIN",)),
            "with the BEGIN": (other, (b"BEGIN; " + _SETTINGS,)),
            "a round trip of their own": (other, (b"BEGIN", _SETTINGS)),
        }
        samples: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(slices):
            for way, (pgconn, begin) in ways.items():
                start = time.perf_counter()
                for _ in range(n):
                    for query in (*begin, b"SELECT 1", b"ROLLBACK"):
                        _send(pgconn, query)
                samples[way].append((time.perf_counter() - start) / n * 1e6)
    return {way: statistics.median(v) for way, v in samples.items()}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", required=True, help="the PostgreSQL server (or a pooler in front of it)")
    parser.add_argument("--slices", type=int, default=30)
    parser.add_argument("--schema", action="store_true", help="use the URL's database as it is (no new schema)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.schema:
        url, drop = args.pg, None
    else:
        sys.path.insert(0, str(ROOT / "bench"))
        from store import pg_schema_url

        url, drop = pg_schema_url(args.pg)
    try:
        result: dict[str, Any] = measure(url, args.slices)
        result["bare"] = bare(url.replace("postgresql+psycopg://", "postgresql://"), args.slices)
    finally:
        if drop is not None:
            drop()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for mode in MODES:
            kinds = result[mode]
            print(f"{mode:>24}: " + ", ".join(
                f"{kind} {us:.1f} us ({us / result['session'][kind]:.3f})" for kind, us in kinds.items()))
        print("bare BEGIN, SELECT 1, ROLLBACK: " + ", ".join(
            f"{way} {us:.1f} us ({us / result['bare']['session']:.3f})" for way, us in result["bare"].items()))
    return result


if __name__ == "__main__":
    main()
