"""Names people type: who acts, whom work is given to (owners, candidate users and groups, participants and their
roles), items, documents, business keys. They are read on an audit trail and typed again to find what they name.

Two rules hold for a name given anew (a command as the engine checks it, the service's own inputs, a model as it is
validated), never for one read back from stored events: an old log replays as it was written.

- A name cannot hold a character that does not show, or that reorders the text around it: control characters (C0,
  DEL, C1), line and paragraph separators, zero-width characters (a joiner only where it joins nothing: `joins`)
  and the bidirectional marks and overrides. With them an audit trail's "who" can pass for someone else
  (``bo\\u200bb`` reads as ``bob``, ``\\u202eevil`` as ``live``), and a name cannot be typed again to find what
  it names.
- A name is kept without the whitespace around it, and in Unicode normalisation form C (NFC): "café" typed as "e"
  and a combining accent is the same name as "café" typed with "é", as it reads. Two spellings that look the same
  would otherwise be two documents, two people, two tasks.

Free text (a reason, a description) and data values may hold what they like: a newline there is text, not a name.
"""

from __future__ import annotations

import re
import unicodedata

# Also what `casework.display` escapes when it shows stored text (names stored before this check, reasons, data).
UNREADABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]")

# The zero-width non-joiner and joiner change how the letters of some scripts join (Persian, where a word such as
# "mi-khaham" is written with a non-joiner; the conjuncts of the Indic scripts) and make one picture of an emoji
# sequence (woman, joiner, staff of Aesculapius: a health worker): there they show, and are part of how the name is
# written. Next to ASCII, or letters of the Latin, Greek and Cyrillic scripts, they show nothing.
_JOINERS = "\u200c\u200d"
_JOINS_NOTHING = re.compile("[\x00-\u052f\u1d00-\u1fff\u2c60-\u2c7f\ua720-\ua7ff\uff00-\uffef\u200c\u200d]")


def joins(text: str, at: int) -> bool:
    """Whether the character at `at` is a joiner that shows (see `_JOINERS`): between two characters that it joins."""
    if text[at] not in _JOINERS or at == 0 or at + 1 == len(text):
        return False
    return _JOINS_NOTHING.match(text[at - 1]) is None and _JOINS_NOTHING.match(text[at + 1]) is None


def unreadable(name: str, what: str) -> str | None:
    """Why `name` cannot be `what` (the first character it cannot hold, as U+XXXX and its Unicode name), or None.
    Read as `typed` keeps it: a line break pasted after it goes with the spaces around it."""
    if name.isprintable():  # the common case, at C speed: every character above is a control, format or separator
        return None
    name = name.strip()
    for found in UNREADABLE.finditer(name):
        if joins(name, found.start()):
            continue
        char = found.group()
        label = unicodedata.name(char, "a control character")
        return (f"{what} contains U+{ord(char):04X} ({label}), a character that does not show or that reorders the "
                "text around it: give the name without it")
    return None


def typed(name: str) -> str:
    """`name` as it is kept: without the whitespace around it (" bob " is bob), in Unicode NFC."""
    name = name.strip()
    return name if name.isascii() else unicodedata.normalize("NFC", name)
