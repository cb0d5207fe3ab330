"""Similar-case search (`casework.insight.similar.SimilarCases`) at the sizes a case type reaches in use.

Usage: python bench/similar.py [--cases N ...] [--vocab V] [--queries Q]
Not a test. Each size runs in a fresh process, on closed cases made up at run time: 120 words each from a Zipf-like
vocabulary of V terms (as case data, notes and documents spread over many rare words) and a path of 3-15 of 30
activities. Prints fit seconds, median milliseconds per query (top 5) and the process's peak memory.
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs="+", default=[2_000, 10_000, 50_000])
    parser.add_argument("--vocab", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
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
