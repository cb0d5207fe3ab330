"""Findings kept current: after every change of a case its case type's rules, gaps, SLA and unusual-path checks run
again (`flags.assess`), and the store's `case_findings` rows become what they found, so that anyone can see which
cases are flagged without opening each one.

`FindingsWatcher(service, case_types, model).attach()` listens to the service: each command that wrote events, each
new case and each attached document of a case whose definition has a case type is judged again, in the thread that
made the change, once it is durable. Time alone also changes findings (an SLA passes while nobody touches the case):
`refresh_open` judges every open case again, which is what a scheduled job runs (`casework suggest refresh`).
Findings are derived data: a finding that no longer holds is removed, one that stays keeps the time it was first
raised, and what people did about them is in the audit trail (accept/dismiss events), not here. Each row records the
version of the case it was last judged at: a command run without a watcher (the `casework case` and `casework
migrate` commands, unless `CASEWORK_CASE_TYPES` is set: `casework.insight.configured`) changes a case without judging
it, and `suggest flags` says so until the next refresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from datetime import UTC, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from casework.insight.case_documents import stored_values
from casework.insight.casetype import CaseType
from casework.insight.flags import assess
from casework.insight.rules import FEEDBACK_EVENTS, Finding, dismissed_findings

if TYPE_CHECKING:
    from casework.insight.advisor import PathProbability, RemainingSeconds
    from casework.insight.modelfile import InsightModel
    from casework.service import CaseService
    from casework.store import Store
    from casework.store.findings import Judged


# Cases whose unchanged findings `refresh_open` marks judged in one transaction: a write lock held briefly, however
# many cases are open.
_MARKS = 1000


def stored_documents(store: Store, case_id: str) -> list[tuple[str, str]]:
    """The case's documents as (kind, name): a document counts as the kind its file is named after
    (police_report.pdf is a police_report)."""
    return [(Path(d.name).stem, d.name) for d in store.documents(case_id)]


class FindingsWatcher:
    def __init__(
        self, service: CaseService, case_types: Iterable[CaseType], model: InsightModel | None = None,
        zone: tzinfo = UTC,
    ) -> None:
        """`zone`: the organisation's (`CASEWORK_TIMEZONE`), whose clock the model reads the cases' steps in."""
        self.service = service
        self.case_types: dict[str, CaseType] = {}
        for kind in case_types:
            other = self.case_types.setdefault(kind.definition, kind)
            if other is not kind:
                raise ValueError(f"case types {other.key!r} and {kind.key!r} both describe {kind.definition!r}")
        self.model = model
        self._path: PathProbability | None = None
        self._remaining: RemainingSeconds | None = None
        if model is not None:
            # Only with a model: the advisor loads LightGBM, a second or more that case types alone do not need.
            from casework.insight.advisor import PathProbability, RemainingSeconds

            self._path = PathProbability(model.next_action, model.version)
            self._remaining = RemainingSeconds(model.remaining_time, zone, model.version)

    def attach(self) -> FindingsWatcher:
        """Judge each case again whenever the service changes it."""
        self.service.add_listener(self.refresh)
        return self

    def refresh(self, case_id: str, now: dt.datetime | None = None) -> list[Finding] | None:
        """Judge the case as it is stored now and store the findings; None if no case type describes it (or it was
        imported from a log, or is gone)."""
        return self._judge(case_id, now, None)

    def _judge(self, case_id: str, now: dt.datetime | None, unchanged: list[Judged] | None) -> list[Finding] | None:
        """`refresh`; where the findings are those stored, the version judged goes to `unchanged` if given, to be
        written with the others' (`Store.mark_judged`), instead of a transaction of its own."""
        store = self.service.store
        head = store.case_head(case_id)
        if head is None or head.source != "engine":
            return None
        kind = self.case_types.get(head.definition_key)
        if kind is None:
            # Migrated to a definition these case types do not describe: what they found no longer applies.
            store.clear_findings(case_id, [k.key for k in self.case_types.values()])
            return None
        moment = now or self.service.clock()
        # Head and state from one read: a migration between two reads would pair a state with the other version.
        state = self.service.state_at_head(head)
        _, definition = self.service.definition(head.definition_key, head.definition_version)
        # Read up to the judged version: a dismissal recorded after it belongs to a later judgement.
        decisions = store.events(case_id, upto_seq=state.version, types=FEEDBACK_EVENTS)
        findings = assess(kind, definition, state, stored_documents(store, case_id), moment,
                          next_action_model=self._path, remaining_model=self._remaining,
                          dismissed=dismissed_findings(decisions), extracted=stored_values(store, case_id, kind))
        # A case changed again meanwhile is judged again by that change: this judgement is dropped as stale.
        store.replace_findings(case_id, state.version, [f.to_dict() for f in findings], moment,
                               model_version=self.model.version if self.model is not None else "", case_type=kind.key,
                               unchanged=unchanged)
        return findings

    def refresh_open(self, now: dt.datetime | None = None) -> tuple[int, int]:
        """Judge every open case of the watched definitions again, and remove what is still stored for a case that
        has ended; returns (open cases judged, findings stored)."""
        judged = found = 0
        store = self.service.store
        open_ids = store.case_ids(status="active") + store.case_ids(status="suspended")
        unchanged: list[Judged] = []
        for case_id in open_ids:
            findings = self._judge(case_id, now, unchanged)
            if findings is not None:
                judged += 1
                found += len(findings)
            if len(unchanged) >= _MARKS:
                store.mark_judged(unchanged)
                unchanged.clear()
        store.mark_judged(unchanged)
        # An ended case has no findings, but casework before 2026-12-07 kept a rule's flags on one it had judged as
        # it ended; no change of the case will come to remove them, so they are judged (away) here.
        for case_id in sorted({row.case_id for row in store.findings()} - set(open_ids)):
            self.refresh(case_id, now)
        return judged, found
