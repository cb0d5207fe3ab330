"""Benchmark: `import-log` of bpic12 as XES (plain and gzip) beside the same log as CSV, into a new SQLite store each.

Not a test. Run: ``python bench/import_log_xes.py [--runs 1] [--json]``. The XES is what `casework export --format
xes` writes for a store holding bpic12 imported from ``../shared/logs/bpic12.csv.gz`` (made once, in a temporary
folder under /tmp that is removed afterwards, as are the stores). Each import runs in a fresh process under
``/usr/bin/time -v`` (`operations.measure`), the three files by turns: wall seconds, CPU seconds and peak resident
memory (MB), medians over the runs, of the import and of importing the same file again (every case present).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from operations import LOG, casework, measure, medians


def xes_of_bpic12(folder: Path) -> tuple[Path, Path]:
    """(bpic12.xes, bpic12.xes.gz): the export of a store that bpic12 was imported into."""
    db = f"sqlite:///{folder / 'source.db'}"
    subprocess.run(casework("import-log", str(LOG), "--definition", "bpic12", "--db", db), check=True,
                   capture_output=True)
    xes = folder / "bpic12.xes"
    subprocess.run(casework("export", "--format", "xes", "--db", db, "-o", str(xes)), check=True,
                   capture_output=True)
    zipped = folder / "bpic12.xes.gz"
    with xes.open("rb") as src, gzip.open(zipped, "wb") as out:
        shutil.copyfileobj(src, out)
    return xes, zipped


def run(runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir="/tmp") as name:
        folder = Path(name)
        xes, zipped = xes_of_bpic12(folder)
        logs = {"csv.gz": LOG, "xes": xes, "xes.gz": zipped}
        samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label in logs}
        again: dict[str, list[tuple[float, float, float]]] = {label: [] for label in logs}
        for n in range(runs):
            for label, log in logs.items():
                db = folder / f"{label}{n}.db"
                cmd = casework("import-log", str(log), "--definition", "bpic12", "--db", f"sqlite:///{db}")
                samples[label].append(measure(cmd))
                again[label].append(measure(cmd))
                for leftover in folder.glob(f"{db.name}*"):
                    leftover.unlink()
        results["import"] = medians("bpic12", samples, width=12)
        results["again"] = medians("bpic12 again", again, width=12)
        results["sizes_mb"] = {label: round(log.stat().st_size / 2**20, 1) for label, log in logs.items()}
    return results


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.runs)
    if args.json:
        print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
