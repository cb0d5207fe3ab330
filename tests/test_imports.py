"""Every module of casework imports on its own, first: an import cycle that only an import order hides fails here
(the test suite's own imports would otherwise load the modules in an order that works)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import casework
names = sorted(m.name for m in pkgutil.walk_packages(casework.__path__, "casework."))
failed = []
for name in names:
    for loaded in [m for m in sys.modules if m == "casework" or m.startswith("casework.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {type(exc).__name__}: {exc}")
print(len(names))
print("\\n".join(failed))
"""


def test_every_module_imports_first() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, check=True)
    count, *failures = result.stdout.splitlines()
    assert int(count) > 50
    assert [f for f in failures if f] == []
