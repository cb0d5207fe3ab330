"""The hash chain: canonical JSON of an event and its SHA-256 link to the event before it."""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring as _encode_str
from typing import Any

GENESIS = "0" * 64
HASHED_FIELDS = ("case_id", "seq", "type", "at", "actor", "reason", "payload", "prev_hash")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept as UTF-8: the one byte form that is hashed and stored."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(
    *,
    case_id: str,
    seq: int,
    type: str,
    at: str,
    actor: str,
    reason: str | None,
    payload: Any,
    prev_hash: str,
) -> str:
    body = {
        "case_id": case_id,
        "seq": seq,
        "type": type,
        "at": at,
        "actor": actor,
        "reason": reason,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body).encode("utf-8")).hexdigest()


def _s(value: str) -> str:
    return _encode_str(value)


def hash_new_event(
    *, case_id: str, seq: int, type: str, at: str, actor: str, reason: str | None, payload: Any, prev_hash: str
) -> tuple[str, str]:
    """(hash, canonical payload JSON) of an event being appended; equal to `event_hash` but serialises the payload
    once and splices the body together, as this runs for every event written."""
    payload_json = canonical_json(payload)
    body = (
        f'{{"actor":{_s(actor)},"at":{_s(at)},"case_id":{_s(case_id)},"payload":{payload_json},'
        f'"prev_hash":{_s(prev_hash)},"reason":{"null" if reason is None else _s(reason)},"seq":{int(seq)},'
        f'"type":{_s(type)}}}'
    )
    return hashlib.sha256(prev_hash.encode("ascii") + body.encode("utf-8")).hexdigest(), payload_json


def running_hash(previous: str, event_hash_hex: str) -> str:
    """Fold one event hash into the running hash over the global event sequence (what checkpoints sign)."""
    return hashlib.sha256((previous + event_hash_hex).encode("ascii")).hexdigest()
