"""Names a package exports but loads on first use: `casework` imports every command's module to start, and running a
package's `__init__` must not load what only some commands need (the store's SQLAlchemy and Alembic, the engine)."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from importlib import import_module
from typing import Any


def lazy_exports(package: str, sources: dict[str, tuple[str, ...]]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports each name from its module (`sources`: module -> names).

    A name that is also its module's (casework.audit's `verify`, from casework.audit.verify) stays the exported
    name: the import system binds a submodule to its name in the package once it is loaded, which made
    `from casework.audit import verify` the module, where the package's eager import had rebound it to the function."""
    where = {name: module for module, names in sources.items() for name in names}
    shadowed = frozenset(name for name, module in where.items() if module == f"{package}.{name}")
    if shadowed:
        sys.modules[package].__class__ = _keeping(shadowed)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(where[name]), name)
        setattr(sys.modules[package], name, value)  # found from now on without this call
        return value

    return __getattr__


def _keeping(names: frozenset[str]) -> type[types.ModuleType]:
    class Package(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in names and isinstance(value, types.ModuleType):
                return  # the import system binding a loaded submodule over the name the package exports
            super().__setattr__(name, value)

    return Package
