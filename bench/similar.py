"""Similar-case search (`casework.insight.similar.SimilarCases`) at the sizes a case type reaches in use.

Usage: python bench/similar.py [--cases N ...] [--vocab V] [--queries Q]
Not a test. Each size runs in a fresh process, on closed cases made up at run time: 120 words each from a Zipf-like
vocabulary of V terms (as case data, notes and documents spread over many rare words) and a path of 3-15 of 30
activities. Prints fit seconds, median milliseconds per query (top 5) and the process's peak memory.

python bench/similar.py --store [--cases 2000] [--runs 5] [--dir /tmp]: the whole
`casework suggest similar` on a scratch SQLite store of N closed insurance claims, each with a 2-page PDF letter and a
text note (words from the same vocabulary; attached with `Store.add_document`, so no text is stored), each query a
fresh process: with the documents' text not stored (deleted before each run: every query reads the blobs), then
stored (`casework suggest index-documents`, timed once). Prints the median wall seconds of each. (A casework
before stored texts cannot open the store, of a newer schema; its queries read every document as "not stored" does,
without storing the texts at the end.)
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import time


def _one(cases: int, vocab: int, queries: int) -> dict[str, float]:
    from casework.insight.similar import ClosedCase, OpenCase, SimilarCases

    rng = random.Random(3)
    words = [f"w{i}" for i in range(vocab)]
    weights = [1 / (i + 1) for i in range(vocab)]
    activities = [f"Step {i}" for i in range(30)]
    closed = [
        ClosedCase(
            f"c{n}",
            " ".join(rng.choices(words, weights, k=120)),
            tuple(rng.choice(activities) for _ in range(rng.randint(3, 15))),
            rng.choice(["approved", "declined"]),
            rng.random() * 30,
        )
        for n in range(cases)
    ]
    asked = [
        OpenCase(f"q{n}", " ".join(rng.choices(words, weights, k=60)), tuple(rng.choice(activities) for _ in range(5)))
        for n in range(queries)
    ]
    start = time.perf_counter()
    index = SimilarCases().fit(closed)
    fit = time.perf_counter() - start
    times = []
    for case in asked:
        start = time.perf_counter()
        index.query(case, k=5)
        times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cases": cases, "vocab": vocab, "fit_s": fit, "query_ms_p50": statistics.median(times) * 1000,
            "peak_mb": peak_mb}


def _build(url: str, cases: int, vocab: int) -> str:
    """N closed claims with a PDF letter and a note each, and an open one with a letter; the open one's id."""
    import datetime as dt

    from casework.demo import demo_model_xml
    from casework.engine import commands
    from casework.insight.sample_pdf import text_pdf
    from casework.service import CaseService
    from casework.store import Store

    rng = random.Random(5)
    words = [f"w{i}" for i in range(vocab)]
    weights = [1 / (i + 1) for i in range(vocab)]
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def lines(n: int) -> list[str]:
        return [" ".join(rng.choices(words, weights, k=10)) for _ in range(n)]

    with Store.open(url) as store, CaseService(store) as svc:
        svc.deploy(demo_model_xml("insurance_claim.cmmn"))
        for n in range(cases + 1):
            at = t0 + dt.timedelta(minutes=n)
            case_id = svc.start_case("insuranceClaim", {"amount": rng.randint(100, 20_000),
                                                        "cause": " ".join(rng.choices(words, weights, k=8))},
                                     actor="ann", now=at).case_id
            store.add_document(case_id, "letter.pdf", text_pdf([lines(25), lines(25)]), media_type="application/pdf",
                               created_by="ann", now=at)
            store.add_document(case_id, "note.txt", "\n".join(lines(20)).encode(), media_type="text/plain",
                               created_by="ann", now=at)
            if n == cases:
                return case_id
            svc.execute(case_id, commands.CompleteItem(item="Register claim", actor="ann", reason="registered"), at)
            svc.execute(case_id, commands.TerminateCase(actor="ann", reason="closed"), at)
    raise AssertionError


def _timed(command: list[str], pythonpath: str) -> float:
    import os

    env = {**os.environ, "PYTHONPATH": pythonpath}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "casework", *command], check=True, capture_output=True, env=env)
    took = time.perf_counter() - start
    if b"kind alone" in done.stderr:
        print(f"  ({done.stderr.decode().strip()})")
    return took


def _forget(url: str) -> None:
    import sqlite3

    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("DELETE FROM document_text_pages")
        conn.execute("DELETE FROM document_texts")
    conn.close()


def store_bench(cases: int, vocab: int, runs: int, folder: str | None) -> None:
    import os
    import tempfile
    from pathlib import Path

    src = str(Path(__file__).resolve().parent.parent / "src")
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        os.environ["CASEWORK_AUDIT_KEY"] = f"{tmp}/audit.key"
        start = time.perf_counter()
        case_id = _build(url, cases, vocab)
        print(f"{cases:,} closed claims, 2 documents each, built in {time.perf_counter() - start:.0f} s")
        query = ["suggest", "similar", case_id, "--db", url, "--json"]
        results: dict[str, list[float]] = {"not stored": [], "stored": []}
        for _ in range(runs):
            _forget(url)
            results["not stored"].append(_timed(query, src))
        _forget(url)
        index = _timed(["suggest", "index-documents", "--db", url], src)
        print(f"suggest index-documents: {index:.1f} s")
        for _ in range(runs):
            results["stored"].append(_timed(query, src))
        for name, times in results.items():
            print(f"suggest similar, text {name}: median {statistics.median(times):.2f} s of {runs} "
                  f"({', '.join(f'{t:.2f}' for t in times)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[2_000, 10_000, 50_000])
    parser.add_argument("--vocab", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--store", action="store_true", help="time `casework suggest similar` on a scratch store")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", help="folder for the scratch store (--store)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.store:
        store_bench(args.cases[0] if args.cases != [2_000, 10_000, 50_000] else 2_000, args.vocab, args.runs,
                    args.dir)
        return
    if args.one:
        print(json.dumps(_one(args.cases[0], args.vocab, args.queries)))
        return
    for n in args.cases:
        out = subprocess.run(
            [sys.executable, __file__, "--one", "--cases", str(n), "--vocab", str(args.vocab),
             "--queries", str(args.queries)],
            check=True, capture_output=True, text=True,
        )
        r = json.loads(out.stdout)
        print(f"{r['cases']:>7,} cases, {r['vocab']:,} terms: fit {r['fit_s']:.2f} s, "
              f"query p50 {r['query_ms_p50']:.1f} ms, peak {r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
