"""Stored text as the command line shows it: names of tasks, actors, cases and reasons come from whoever works a
case, and are printed to someone else's terminal."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from casework.names import UNREADABLE, joins

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.table import Column
    from rich.text import Text


def percent_text(count: float, total: float) -> str:
    """A share as a whole percentage, except that a share that is not zero never reads as 0%, nor one short of
    all as 100% (1 of 300 cases is "<1%", 299 of them ">99%"): the evidence a reason quotes always has a count
    above zero, and "100% of 300 cases" tells a person that nothing else ever happened."""
    share = 100 * count / total
    if 0 < share <= 0.5:  # 0.5 too: formatting rounds half to even, so it read "0%"
        return "<1%"
    if 99.5 <= share < 100:
        return ">99%"
    return f"{share:.0f}%"


def counted(count: int, noun: str) -> str:
    """"1 transaction", "2 transactions", "1,000 pages": a count read by a person says one thing, not "1 pages"."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def events_written(version: int, types: Sequence[str]) -> str:
    """The events one change wrote, numbered on to the case's `version`: "events 29-31: variables_set, item_transition
    x2" (a run of one type counted, as ending a case ends every item in it)."""
    first = version - len(types) + 1
    seqs = f"event {first}" if first == version else f"events {first}-{version}"
    runs = [(kind, len(list(group))) for kind, group in itertools.groupby(types)]
    return f"{seqs}: " + ", ".join(kind if n == 1 else f"{kind} x{n}" for kind, n in runs)


def shown(text: str) -> str:
    """`text` with each character a name cannot hold (`casework.names.UNREADABLE`) written as its escape (`\\x1b`,
    `\\u202e`): a control character (an ESC starts a terminal command: clear the screen, set the clipboard, hide what
    follows), a mark that reorders text right to left (`invoice\\u202egnp.exe` reads as "invoiceexe.png"), one that
    does not show (`bo\\u200bb` reads as "bob"). Stored text may hold them: a reason, data, a name stored before names
    were checked. A joiner that shows (`casework.names.joins`) stays: it is part of the emoji or the word."""
    return UNREADABLE.sub(lambda match: match.group() if joins(match.string, match.start())
                          else match.group().encode("unicode_escape").decode("ascii"), text)


# An error that quotes what someone gave (a log's field of up to 128 KB, an option's value) quotes its start.
QUOTED = 80


def quoted(text: str, limit: int = QUOTED) -> str:
    """`text` as `repr` quotes it in an error message, cut to its first `limit` characters, saying how long it is."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def plain(value: object) -> Text:
    """A table cell or title from stored data: printed literally by rich (a name holding `[/bold]` is not markup,
    which failed the whole listing), control characters escaped."""
    from rich.text import Text

    return Text(shown(str(value)))


def id_column(header: str) -> Column:
    """A column of ids someone copies into the next command: an id too long for its column is folded onto the next
    line rather than cut ("dfc612236…" could not be typed back). Kept whole instead, a 32-character id left the other
    columns of an 80-column listing a few letters each."""
    from rich.table import Column

    return Column(header, overflow="fold")


SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def finding_block(severity: str, kind: str, finding_id: str, message: str, why: str, do: str,
                  more: Sequence[tuple[str, str]] = (), *, case_id: str | None = None) -> RenderableType:
    """One flag or suggestion as a few lines rather than a table row: its reason is a sentence or two, which six
    columns in an 80-column terminal folded into one word per line. The case and the id stay on one line, since
    they are what `suggest accept|dismiss CASE_ID --finding ID` is given; `more` adds labelled lines after "do"."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    head = Text.assemble((shown(severity), SEVERITY_STYLE.get(severity, "")), "  ",
                         *((shown(case_id), "  ") if case_id is not None else ()), (shown(finding_id), "bold"),
                         f"  ({shown(kind)})")
    head.no_wrap = True
    head.overflow = "ignore"
    body = Table.grid(padding=(0, 1))
    body.add_column(style="dim", no_wrap=True)
    body.add_column(overflow="fold")
    body.add_row("", plain(message))
    body.add_row("why", plain(why))
    if do:
        body.add_row("do", plain(do))
    for label, text in more:
        body.add_row(label, plain(text))
    return Group(head, Padding(body, (0, 0, 0, 2), expand=False), "")


def what_happened(event_type: str, payload: Mapping[str, Any], names: Mapping[str, str],
                  when: Callable[[str], str] = str) -> str:
    """An event's subject in a few words, for an audit trail read by a person; `names` maps item instance ids (and
    plan item ids: a dependency names plan items) to their names (a transition's payload carries only the id), and
    `when` shows a stored time."""
    p = payload
    if event_type == "item_transition":
        return f"{names.get(p['id'], p['id'])}: {p['from']} -> {p['to']}"
    if event_type == "variables_set":
        return ", ".join([*sorted(p.get("variables", {})), *(f"-{name}" for name in p.get("removed", []))])
    if event_type == "add_participant":
        return f"{p['user']} as {p['role']}"
    if event_type == "remove_participant":
        return f"{p['user']} as {p['role']}" if p.get("role") else f"{p['user']} (every role)"
    if event_type == "reassign":
        return f"{p['name']} -> {p['to'] or 'nobody'}"
    if event_type == "set_due":
        return f"{p.get('name') or 'the case'} due {when(p['due'])}"
    if event_type == "add_dependency":
        after = ", ".join(names.get(a, a) for a in p.get("after", []))
        return f"{names.get(p['item'], p['item'])} after {after}"
    if event_type == "document_attached":
        return f"{p['name']} v{p['version']}, sha256 {p['sha256'][:12]}…"
    # An imported case's trail is these two alone: shown as the rest, by their ids, it said nothing of what was done.
    if event_type == "imported_activity":
        return f"{p['activity']} by {p['resource']}" if p.get("resource") else str(p["activity"])
    if event_type == "case_imported":
        return f"case {p['source_case']} of {p['source']}"
    if event_type == "migrate":
        return f"to {p['definition']}" + (f" version {p['version']}" if p.get("version") else "")
    if event_type == "timer_scheduled":
        return f"{names.get(p['id'], p['id'])} due {when(p['due'])}"
    if event_type in ("suggestion_accepted", "suggestion_dismissed"):
        suggestion = p.get("suggestion") or {}
        return str(suggestion.get("id") or suggestion.get("activity") or "")
    return str(p.get("name") or p.get("item") or p.get("id") or "")
