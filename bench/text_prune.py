"""Removing the stored texts of an older extractor (`casework suggest index-documents --prune`) from a large table.

Not a test. Run: python bench/text_prune.py [--texts 20000] [--pages 3] [--chars 1000] [--keep 2000] [--runs 3]
[--pg postgresql://...] [--dir /tmp]. A scratch store (a SQLite file under --dir, or a schema of its own in the
PostgreSQL database --pg names, dropped at the end) is filled with --texts texts of the extractor before the current
one, each of --pages pages of --chars characters, and --keep texts of the current one that must stay. Each run fills
it again, then runs `casework suggest index-documents --prune` in a fresh process (the store has no documents, so
the index part reads nothing: the time is start-up and the prune), then fills it again and times the prune in this
process, batch by batch (the longest batch is the longest a write lock is held). Prints the medians of the runs.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from store import pg_schema_url  # bench/store.py: run as `python bench/text_prune.py`, bench/ is on the path

FILL = 2_000  # texts stored per transaction while filling


def _fill(url: str, key: Path, args: argparse.Namespace) -> None:
    import datetime as dt

    from casework.insight.extraction import TEXT_VERSION
    from casework.store import Store
    from casework.store.records import StoredText

    now = dt.datetime.now(dt.UTC)
    page = ("word " * (args.chars // 5 + 1))[:args.chars]

    def text(i: int, extractor: int) -> StoredText:
        pages = tuple(page for _ in range(args.pages))
        return StoredText(hashlib.sha256(str(i).encode()).hexdigest(), extractor, "any", "text", pages, len(pages),
                          0, "", (), None, now)

    with Store.open(url, audit_key=key) as store:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM document_text_pages")
            conn.exec_driver_sql("DELETE FROM document_texts")
        for start in range(0, args.texts, FILL):
            store.put_document_texts([text(i, TEXT_VERSION - 1) for i in range(start, min(start + FILL, args.texts))])
        for start in range(0, args.keep, FILL):
            store.put_document_texts([text(i, TEXT_VERSION) for i in range(start, min(start + FILL, args.keep))])


def _command(url: str, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "casework", "suggest", "index-documents", "--prune", "--db", url],
                          env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"index-documents --prune failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout.strip().splitlines()[-1]


def _in_process(url: str, key: Path, keep: int) -> dict[str, Any]:
    from casework.insight.extraction import TEXT_VERSION
    from casework.store import Store

    with Store.open(url, audit_key=key) as store:
        batches: list[float] = []
        texts = pages = 0
        start = last = time.perf_counter()
        for gone, gone_pages in store.prune_document_texts(TEXT_VERSION):
            now = time.perf_counter()
            batches.append(now - last)
            last = now
            texts, pages = texts + gone, pages + gone_pages
        total = time.perf_counter() - start
        left = store.document_texts([hashlib.sha256(str(i).encode()).hexdigest() for i in range(keep)], TEXT_VERSION,
                                    max_pages=0)
    if len(left) != keep:
        raise SystemExit(f"the prune removed current texts: {keep - len(left)} of {keep} gone")
    return {"seconds": total, "texts": texts, "pages": pages, "batches": len(batches),
            "longest_batch_ms": max(batches) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=20_000, help="texts of the older extractor (default 20,000)")
    parser.add_argument("--pages", type=int, default=3, help="pages of each (default 3)")
    parser.add_argument("--chars", type=int, default=1_000, help="characters of each page (default 1,000)")
    parser.add_argument("--keep", type=int, default=2_000, help="texts of the current extractor (default 2,000)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the scratch folder goes")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="casework-bench-prune-", dir=args.dir))
    drop: Callable[[], None] | None = None
    try:
        if args.pg:
            url, drop = pg_schema_url(args.pg)
        else:
            url = f"sqlite:///{folder / 'casework.db'}"
        key = folder / "audit.key"
        env = {**os.environ, "CASEWORK_AUDIT_KEY": str(key), "CASEWORK_BLOBS": str(folder / "blobs")}
        commands: list[float] = []
        runs: list[dict[str, Any]] = []
        line = ""
        for _ in range(args.runs):
            _fill(url, key, args)
            seconds, line = _command(url, env)
            commands.append(seconds)
            _fill(url, key, args)
            runs.append(_in_process(url, key, args.keep))
    finally:
        if drop is not None:
            drop()
        for path in sorted(folder.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()
    database = "PostgreSQL" if args.pg else "SQLite"
    print(f"{database}: {args.texts:,} texts of the older extractor ({args.pages} pages of {args.chars:,} characters "
          f"each) beside {args.keep:,} current ones, medians of {args.runs}:")
    print(f"  casework suggest index-documents --prune (fresh process): {statistics.median(commands):.2f} s "
          f"(runs: {', '.join(f'{s:.2f}' for s in commands)}); it said: {line}")
    seconds = [r["seconds"] for r in runs]
    print(f"  the prune alone: {statistics.median(seconds):.2f} s in {runs[0]['batches']} transaction(s), the longest "
          f"{statistics.median(r['longest_batch_ms'] for r in runs):.0f} ms (runs: "
          f"{', '.join(f'{s:.2f}' for s in seconds)})")


if __name__ == "__main__":
    main()
