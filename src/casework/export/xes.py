"""IEEE 1849-2016 XES: one trace per case, one event per task transition; streamed, so memory stays flat."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO
from xml.sax.saxutils import quoteattr as _quoteattr

from casework.export.activities import CAUSED_BY, Activity

# lifecycle:model names the transition model the events' lifecycle:transition values come from (the lifecycle
# extension's log attribute): casework maps CMMN's transitions onto the standard one (see activities.LIFECYCLE).
HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <string key="lifecycle:transition" value="complete"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <classifier name="Activity and transition" keys="concept:name lifecycle:transition"/>
  <string key="concept:name" value="casework"/>
  <string key="lifecycle:model" value="standard"/>
"""


# Characters XML 1.0 cannot carry at all, not even as character references. Casework stores them (a reason may
# hold a control character pasted from elsewhere); the export shows each as U+FFFD so that the file stays readable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def quoteattr(value: str) -> str:
    """An attribute value in quotes, escaped, with what XML cannot carry replaced."""
    return _quoteattr(_NOT_XML.sub("\ufffd", value))


def xes_time(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def write_xes(out: TextIO, acts: Iterable[Activity]) -> tuple[int, int]:
    """Write the log; returns (traces, events). Cases with no exported activity get no trace."""
    out.write(HEADER)
    current: str | None = None
    traces = events = 0
    for a in acts:
        if a.case_id != current:
            if current is not None:
                out.write("  </trace>\n")
            current = a.case_id
            traces += 1
            out.write(f'  <trace>\n    <string key="concept:name" value={quoteattr(a.case_id)}/>\n')
        events += 1
        resource = ""
        if a.resource is not None:
            resource = f'      <string key="org:resource" value={quoteattr(a.resource)}/>\n'
        if a.caused_by is not None:
            resource += f'      <string key="{CAUSED_BY}" value={quoteattr(a.caused_by)}/>\n'
        out.write(
            "    <event>\n"
            f'      <string key="concept:name" value={quoteattr(a.activity)}/>\n'
            f'      <string key="lifecycle:transition" value={quoteattr(a.transition)}/>\n'
            f"{resource}"
            f'      <date key="time:timestamp" value="{xes_time(a.time)}"/>\n'
            "    </event>\n"
        )
    if current is not None:
        out.write("  </trace>\n")
    out.write("</log>\n")
    return traces, events
