"""The next-best-action procedure on the views of BPI Challenge 2012 that prediction benchmarks use beside the whole
log: its application (A_), offer (O_) and work-item (W_, every lifecycle transition) events, and its completions
alone (ERamaM/PredictiveMonitoringDatasets ships them as BPI_Challenge_2012_A, _O, _W and _Complete). Each view has
other activities, case lengths and loops than the log the procedure was developed on; nothing is set per view.

Usage: python bench/bpic12_sublogs.py [--logs-dir DIR] [--json] [--keep DIR]
The views are written (gzip CSV, the shared logs' format) to a temporary folder, or to --keep DIR, from
DIR/bpic12.csv.gz (default: logs/ in $CASEWORK_SHARED, or ../shared/logs beside the checkout), and `casework suggest
report` runs on them. Takes a few minutes on a 2-core machine. Not part of the tests.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from casework.insight.cli import suggest_app
from casework.paths import shared_dir

VIEWS: dict[str, Callable[[str], bool]] = {
    "bpic12_a": lambda activity: activity.startswith("A_"),
    "bpic12_o": lambda activity: activity.startswith("O_"),
    "bpic12_w": lambda activity: activity.startswith("W_"),
    "bpic12_complete": lambda activity: activity.endswith("+COMPLETE"),
}


def write_views(source: Path, folder: Path) -> None:
    """One file per view: the rows whose activity the view keeps, in the source's order (a case with none of them
    is left out)."""
    with ExitStack() as stack, gzip.open(source, "rt", newline="", encoding="utf-8") as handle:
        writers = {name: csv.writer(stack.enter_context(
            gzip.open(folder / f"{name}.csv.gz", "wt", newline="", encoding="utf-8"))) for name in VIEWS}
        rows = csv.reader(handle)
        header = next(rows)
        for writer in writers.values():
            writer.writerow(header)
        activity_at = header.index("activity")
        for row in rows:
            for name, keeps in VIEWS.items():
                if keeps(row[activity_at]):
                    writers[name].writerow(row)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, default=None, help="write the views here and keep them")
    args = parser.parse_args(argv)
    shared = shared_dir()
    logs = args.logs_dir or (shared / "logs" if shared else None)
    if logs is None or not (logs / "bpic12.csv.gz").is_file():
        parser.error("no bpic12.csv.gz: pass --logs-dir, or set CASEWORK_SHARED")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        write_views(logs / "bpic12.csv.gz", folder)
        names = [arg for name in VIEWS for arg in ("--log", name)]
        suggest_app(["report", "--logs-dir", str(folder), *names, *(["--json"] if args.json else [])],
                    prog_name="casework suggest", standalone_mode=False)


if __name__ == "__main__":
    main()
