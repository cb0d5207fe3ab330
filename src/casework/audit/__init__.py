"""Tamper evidence for the event log: hash chains, signed checkpoints, verification and time travel."""

from __future__ import annotations

from casework.audit.checkpoints import Checkpointer, load_or_create_key, write_checkpoint
from casework.audit.hashing import GENESIS, canonical_json, event_hash
from casework.audit.verify import Problem, Report, verify

__all__ = [
    "GENESIS",
    "Checkpointer",
    "Problem",
    "Report",
    "canonical_json",
    "event_hash",
    "load_or_create_key",
    "verify",
    "write_checkpoint",
]
