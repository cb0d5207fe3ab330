"""casework: dynamic case management on a deterministic CMMN 1.1 engine."""

__version__ = "0.1.0"
