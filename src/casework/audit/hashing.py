"""The hash chain: canonical JSON of an event and its SHA-256 link to the event before it."""

from __future__ import annotations

import hashlib
import json
import json.encoder
from collections.abc import Callable
from json.encoder import encode_basestring as _encode_str
from typing import Any

GENESIS = "0" * 64
HASHED_FIELDS = ("case_id", "seq", "type", "at", "actor", "reason", "payload", "prev_hash")


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False) uses, built
# once: json.dumps builds a new encoder on every call with non-default options.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, non-ASCII kept as UTF-8: the one byte form that is hashed and stored."""
    return _CANONICAL.encode(value)


def _reusable_encoder() -> Callable[[Any], str]:
    """`canonical_json` for the payloads of new events, without building a C encoder on every call (which
    JSONEncoder.encode does, at half the cost of the encoding). Same output; the pure-Python path where the C
    accelerator is missing. No circular-reference check: payloads are trees of plain data."""
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # the C accelerator; not in the type stubs
    if c_make_encoder is None:  # pragma: no cover - CPython always has it
        return canonical_json
    encoder = c_make_encoder(None, _CANONICAL.default, _encode_str, None, ":", ",", True, False, False)
    join = "".join

    def encode(value: Any) -> str:
        if isinstance(value, str):
            return _encode_str(value)
        return join(encoder(value, 0))

    return encode


_payload_json = _reusable_encoder()


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


def hash_new_event(
    *, case_id: str, seq: int, type: str, at: str, actor: str, reason: str | None, payload: Any, prev_hash: str
) -> tuple[str, str]:
    """(hash, canonical payload JSON) of an event being appended; equal to `event_hash` but serialises the payload
    once and splices the body together, as this runs for every event written."""
    payload_json = _payload_json(payload)
    body = (
        f'{{"actor":{_encode_str(actor)},"at":{_encode_str(at)},"case_id":{_encode_str(case_id)},'
        f'"payload":{payload_json},"prev_hash":{_encode_str(prev_hash)},'
        f'"reason":{"null" if reason is None else _encode_str(reason)},"seq":{int(seq)},"type":{_encode_str(type)}}}'
    )
    return _sha256(prev_hash.encode("ascii") + body.encode("utf-8")).hexdigest(), payload_json


_sha256 = hashlib.sha256


def running_hash(previous: str, event_hash_hex: str) -> str:
    """Fold one event hash into the running hash over the global event sequence (what checkpoints sign)."""
    return hashlib.sha256((previous + event_hash_hex).encode("ascii")).hexdigest()
