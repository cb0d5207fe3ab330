"""Read the findings `suggest case` and `suggest flags` print: one block of lines per finding, from its head line
(severity, [case,] id, kind) to the blank line after it."""

from __future__ import annotations

import re


def finding_blocks(output: str) -> list[str]:
    """Each finding's lines as one string, its wrapped lines joined with single spaces."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in output.splitlines():
        if not line.strip():
            current = None
        elif re.match(r"(critical|warning|info)  \S", line):
            current = [line]
            blocks.append("")
        elif current is not None:
            current.append(line)
        if current is not None:
            blocks[-1] = " ".join(" ".join(current).split())
    return blocks


def finding_block(output: str, *head: str) -> str:
    """The one finding whose head line holds each of `head` (its id, its case)."""
    (found,) = [block for block in finding_blocks(output) if all(f" {word} " in block.split(" (")[0] + " "
                                                                 for word in head)]
    return found
