"""Names a package exports but loads on first use: `casework` imports every command's module to start, and running a
package's `__init__` must not load what only some commands need (the store's SQLAlchemy and Alembic, the engine)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, sources: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports each name from its module (`sources`: module -> names)."""
    where = {name: module for module, names in sources.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(where[name]), name)

    return __getattr__
