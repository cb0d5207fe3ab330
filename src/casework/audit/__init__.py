"""Tamper evidence for the event log: hash chains, signed checkpoints, verification and time travel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from casework.lazy import lazy_exports

if TYPE_CHECKING:
    from casework.audit.checkpoints import Checkpointer, load_or_create_key, write_checkpoint
    from casework.audit.hashing import GENESIS, canonical_json, event_hash
    from casework.audit.verify import Problem, Report, verify

# Loaded on first use: the store's writes import casework.audit.hashing, which runs this file first, and
# verification brings the engine, signing the cryptography library, which a store that only reads does not need.
__getattr__ = lazy_exports(__name__, {
    "casework.audit.checkpoints": ("Checkpointer", "load_or_create_key", "write_checkpoint"),
    "casework.audit.hashing": ("GENESIS", "canonical_json", "event_hash"),
    "casework.audit.verify": ("Problem", "Report", "verify"),
})

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
