"""What a document's media type must look like: `type/subtype`, with optional parameters (`; charset=utf-8`).

Names as RFC 6838 section 4.2 restricts them (what IANA registers); parameters as RFC 2045 and RFC 9110 section
8.3.1 write them, a value a token or a quoted string. Anything else recorded as a document's media type ("not a
type", a file name) is what a reader of the case gets back and hands to whatever opens the document.
"""

from __future__ import annotations

import re

_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED = r'"(?:[\t !#-\[\]-~]|\\[\t -~])*"'
_MEDIA_TYPE = re.compile(rf"{_NAME}/{_NAME}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*")


def media_type_problem(text: str) -> str | None:
    """Why `text` is not a media type, or None if it is one."""
    if _MEDIA_TYPE.fullmatch(text):
        return None
    return (f"{text!r} is not a media type: give type/subtype, e.g. application/pdf or "
            "text/plain; charset=utf-8")
