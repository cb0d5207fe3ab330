"""Every module of casework imports on its own, first: an import cycle that only an import order hides fails here
(the test suite's own imports would otherwise load the modules in an order that works)."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("first", ["", "import casework.audit.verify", "from casework.audit.verify import Report"])
def test_a_package_export_named_as_its_module_is_the_export_whatever_was_imported_first(first: str) -> None:
    # casework.audit exports the function verify from its module casework.audit.verify: once loaded, the module was
    # what `from casework.audit import verify` gave, and calling it failed ('module' object is not callable)
    script = f"{first}\nfrom casework.audit import verify\nimport casework.audit\nprint(verify.__name__, " \
             "type(verify).__name__, casework.audit.verify is verify)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.split() == ["verify", "function", "True"]
