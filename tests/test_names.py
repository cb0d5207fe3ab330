"""The one reading of a name people type (`casework.names`): what it cannot hold, and the form it is kept in."""

from __future__ import annotations

import unicodedata

import pytest

from casework.names import typed, unreadable


@pytest.mark.parametrize("char", ["\x00", "\t", "\n", "\x1b", "\x7f", "\x85", "\x9f", "\u061c", "\u200b", "\u200c",
                                  "\u200d", "\u200e", "\u200f", "\u2028", "\u2029", "\u202a", "\u202e", "\u2060",
                                  "\u2066", "\u2069", "\ufeff"])
def test_a_character_that_does_not_show_is_named(char: str) -> None:
    problem = unreadable(f"bo{char}b", "the actor")
    assert problem is not None and problem.startswith(f"the actor contains U+{ord(char):04X} (")
    # Around the name, whitespace (a line break, a tab) goes with the spaces (`typed`); anything else is refused.
    around = (unreadable(f"{char}bob", "the actor"), unreadable(f"bob{char}", "the actor"))
    assert around == (None, None) if char.isspace() else None not in around
    assert typed(f"{char}bob{char}") == "bob" if char.isspace() else typed(f"{char}bob") == f"{char}bob"


@pytest.mark.parametrize("name", [
    "Zo\u00eb O'Brien-Smith", "\u65e5\u672c", "\u0417\u043e\u044f",
    "\u067e\u06cc\u0634\u200c\u0646\u0648\u06cc\u0633",  # Persian, a non-joiner between two joining letters
    "\u0915\u094d\u200d\u0937",  # Devanagari: a joiner after the virama
    "\U0001f469\u200d\u2695\ufe0f",  # an emoji sequence: health worker
    "a b\u00a0c",  # spaces, a no-break space among them, show
])
def test_a_name_that_reads_as_written_is_taken(name: str) -> None:
    assert unreadable(name, "the name") is None


def test_a_joiner_next_to_latin_letters_or_another_joiner_shows_nothing_and_is_refused() -> None:
    for name in ("bo\u200db", "\u067e\u200c\u200c\u0646", "\u00e9\u200c\u00e9", "\U0001f469\u200db"):
        assert unreadable(name, "the name") is not None, name


def test_a_name_is_kept_in_nfc() -> None:
    assert typed("cafe\u0301") == "caf\u00e9" == typed("caf\u00e9")
    assert typed("\u1100\u1161") == "\uac00"  # Hangul jamo compose
    assert typed("\ufb01le") == "\ufb01le"  # not NFKC: a ligature stays what it was typed as
    assert unicodedata.is_normalized("NFC", typed("A\u030a\u0323"))
