"""`python -m casework`: the `casework` command line from a checkout that is not installed (PYTHONPATH=src)."""

from casework.cli import main

if __name__ == "__main__":  # importing the module (tests/test_imports.py walks every one) must not run the CLI
    main()
