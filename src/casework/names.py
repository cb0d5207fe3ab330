"""Names people type: who acts, whom work is given to (owners, candidate users and groups, participants and their
roles), items, documents, business keys. They are read on an audit trail and typed again to find what they name.

Two rules hold for a name given anew (a command as the engine checks it, the service's own inputs, a model as it is
validated), never for one read back from stored events: an old log replays as it was written.

- A name cannot hold a character that does not show, or that reorders the text around it: control characters (C0,
  DEL, C1), line and paragraph separators, zero-width characters and the bidirectional marks and overrides. With
  them an audit trail's "who" can pass for someone else (``bo\\u200bb`` reads as ``bob``, ``\\u202eevil`` as
  ``live``), and a name cannot be typed again to find what it names.
- A name is kept in Unicode normalisation form C (NFC): "café" typed as "e" and a combining accent is the same name
  as "café" typed with "é", as it reads. Two spellings that look the same would otherwise be two documents, two
  people, two tasks.

Free text (a reason, a description) and data values may hold what they like: a newline there is text, not a name.
"""

from __future__ import annotations

import re
import unicodedata

# Also what `casework.display` escapes when it shows stored text (names stored before this check, reasons, data).
UNREADABLE = ("\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff")
_UNREADABLE = re.compile(f"[{UNREADABLE}]")


def unreadable(name: str, what: str) -> str | None:
    """Why `name` cannot be `what` (the first character it cannot hold, as U+XXXX and its Unicode name), or None."""
    found = _UNREADABLE.search(name)
    if found is None:
        return None
    char = found.group()
    label = unicodedata.name(char, "a control character")
    return (f"{what} contains U+{ord(char):04X} ({label}), a character that does not show or that reorders the "
            "text around it: give the name without it")


def typed(name: str) -> str:
    """`name` as it is kept: in Unicode NFC."""
    return name if name.isascii() else unicodedata.normalize("NFC", name)
