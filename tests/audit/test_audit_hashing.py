"""The bytes that are hashed: new events and `verify` must produce the same canonical JSON and the same hash."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from casework.audit.hashing import _payload_json, canonical_json, event_hash, hash_new_event

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_the_fast_payload_encoder_writes_exactly_the_canonical_form(value: Any) -> None:
    assert _payload_json(value) == canonical_json(value)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5), st.text(min_size=1), st.text() | st.none())
def test_hash_new_event_equals_event_hash(payload: dict[str, Any], actor: str, reason: str | None) -> None:
    fields = {"case_id": "c-1", "seq": 7, "type": "item_transition", "at": "2024-05-01T09:00:00Z", "actor": actor,
              "reason": reason, "payload": payload, "prev_hash": "ab" * 32}
    digest, payload_json = hash_new_event(**fields)
    assert digest == event_hash(**fields)
    assert payload_json == canonical_json(payload)


@pytest.mark.parametrize("bad", [math.nan, math.inf, {"x": [1, -math.inf]}])
def test_non_finite_numbers_are_refused_not_hashed(bad: Any) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        _payload_json(bad)
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json(bad)


def test_canonical_form_sorts_keys_and_keeps_unicode() -> None:
    assert canonical_json({"b": 1, "a": "ü ✓", "c": [None, True, 1.5]}) == '{"a":"ü ✓","b":1,"c":[null,true,1.5]}'
