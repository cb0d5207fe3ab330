"""What judging a case costs (`FindingsWatcher.refresh`: what runs after every change when CASEWORK_CASE_TYPES is set),
with and without reading what its documents say about its data (`case_documents.stored_values`).

Usage: python bench/judge_case.py [--documents 1] [--chars 0] [--runs 30] [--db URL]
Not a test. Builds a demo claim in a temporary folder (SQLite) unless --db names a database it may fill, attaches
its claim form and `--documents - 1` witness statements of `--chars` characters each (the case type's date pattern
reads every document), then judges the case `--runs` times each way, by turns, and prints the medians in ms.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import casework.insight.watch as watch
from casework.demo import demo_model_xml
from casework.insight.casetype import bundled_case_type
from casework.service import CaseService
from casework.store import Store

FORM = ("CLAIM FORM\nPolicy number: AB-123456\nClaimant: Jane Doe\nClaimed amount: EUR 12,500\n"
        "Date of the incident: 2026-11-20\n")
LINE = "The witness statement goes on with the road, the weather and the light that evening. "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1)
    parser.add_argument("--chars", type=int, default=0)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--db")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="judge-case-"))
    url = args.db or f"sqlite:///{folder}/bench.db"
    with Store.open(url, audit_key=folder / "audit.key", blob_dir=folder / "blobs") as store, \
            CaseService(store) as service:
        service.deploy(demo_model_xml("insurance_claim.cmmn"))
        case_id = service.start_case("insuranceClaim", {}, actor="bench").case_id
        service.add_document(case_id, "claim_form.txt", io.BytesIO(FORM.encode()), actor="bench",
                             media_type="text/plain")
        statement = (LINE * (args.chars // len(LINE) + 1))[: args.chars].encode()
        for number in range(1, args.documents):
            service.add_document(case_id, f"statement_{number}.txt", io.BytesIO(statement), actor="bench",
                                 media_type="text/plain")
        watcher = watch.FindingsWatcher(service, [bundled_case_type("insurance_claim")])
        read = watch.stored_values
        seconds: dict[str, list[float]] = {"with document values": [], "without": []}
        for _ in range(args.runs):
            for way in seconds:
                watch.stored_values = read if way == "with document values" else (lambda *_: None)
                started = time.perf_counter()
                watcher.refresh(case_id)
                seconds[way].append(time.perf_counter() - started)
        watch.stored_values = read
    for way, taken in seconds.items():
        print(f"{way}: median {statistics.median(taken) * 1000:.1f} ms over {args.runs} judgements "
              f"({args.documents} documents, {args.chars:,} characters each after the form)")


if __name__ == "__main__":
    main()
