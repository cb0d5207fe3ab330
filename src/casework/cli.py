"""The `casework` command line: thin adapters over the library; each sub-app lives beside what it drives."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="casework: dynamic case management.")

# Sub-applications register here, one line each.
from casework.bench_cli import register as _register_bench  # noqa: E402
from casework.conformance.cli import register as _register_conformance  # noqa: E402
from casework.demo.cli import register as _register_demo  # noqa: E402
from casework.insight.cli import register as _register_insight  # noqa: E402
from casework.model.cli import register as _register_model  # noqa: E402
from casework.service.cli import register as _register_service  # noqa: E402
from casework.store.cli import register as _register_store  # noqa: E402

_register_model(app)
_register_conformance(app)
_register_insight(app)
_register_store(app)
_register_service(app)
_register_bench(app)
_register_demo(app)


def main() -> None:
    app()
