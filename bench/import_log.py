"""Benchmark: `import-log` of bpic12 and of a log `--scale` times its size, into a new SQLite store each run.

Not a test. Run: ``python bench/import_log.py [--scale 10] [--runs 1] [--baseline OTHER/src] [--json]``. Each
import runs in a fresh process under ``/usr/bin/time -v`` (`operations.measure`): wall seconds, CPU seconds and
peak resident memory (MB), medians over the runs, of the import and of importing the same log again (every case
present, every key checked); ``--baseline`` runs another casework source tree's import by
turns with this one's. The larger log is bpic12 ``--scale`` times over, each copy's case ids suffixed ("-2", ...),
written gzipped to a temporary folder under /tmp that is removed afterwards, as are the stores. Peak memory that
grows with the log, rather than with its largest case, is what this looks for.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from operations import LOG, casework, measure, medians


def scaled_log(folder: Path, scale: int) -> Path:
    """bpic12 `scale` times over under other case ids: the same cases' shapes, `scale` times the rows."""
    path = folder / f"bpic12x{scale}.csv.gz"
    with gzip.open(LOG, "rt", encoding="utf-8", newline="") as src:
        header, *rows = list(csv.reader(src))
    with gzip.open(path, "wt", encoding="utf-8", newline="", compresslevel=1) as out:
        writer = csv.writer(out)
        writer.writerow(header)
        for copy in range(1, scale + 1):
            writer.writerows([f"{row[0]}-{copy}", *row[1:]] for row in rows)
    return path


def run(runs: int, scale: int, baseline: str | None) -> dict[str, Any]:
    versions = {"before": baseline, "after": None} if baseline else {"this": None}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        logs = {"bpic12": LOG, f"bpic12 x{scale}": scaled_log(Path(folder), scale)}
        for label, log in logs.items():
            samples: dict[str, list[tuple[float, float, float]]] = {v: [] for v in versions}
            again: dict[str, list[tuple[float, float, float]]] = {v: [] for v in versions}
            for n in range(runs):
                for version, src in versions.items():
                    db = Path(folder) / f"{version}{n}.db"
                    cmd = casework("import-log", str(log), "--definition", "bpic12", "--db", f"sqlite:///{db}")
                    samples[version].append(measure(cmd, src))
                    again[version].append(measure(cmd, src))  # every case present: each key is checked
                    for leftover in Path(folder).glob(f"{db.name}*"):
                        leftover.unlink()
            results[label] = medians(label, samples, width=20)
            results[f"{label} again"] = medians(f"{label} again", again, width=20)
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--baseline", help="src folder of another casework to compare with, run by turns")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.runs, args.scale, args.baseline)
    if args.json:
        print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
