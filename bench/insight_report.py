"""Next-best-action and remaining-time results over the six shared logs (`casework suggest report`).

Usage: python bench/insight_report.py [--json] [--log NAME ...]
Runs the evaluation protocol of shared/logs/README.md; takes a few minutes on a 2-core machine. Not part of the tests.
"""

from __future__ import annotations

import sys

from casework.insight.cli import suggest_app


def main(argv: list[str]) -> None:
    suggest_app(["report", *argv], prog_name="casework suggest")


if __name__ == "__main__":
    main(sys.argv[1:])
