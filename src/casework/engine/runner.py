"""The agenda that carries one command through to a quiet case.

Like Flowable's agenda, work is planned as operations; sentry evaluation waits until the planned operations have run
(they can satisfy more on-parts), and stage completion is checked last. Every state change is an event applied at
once, so later operations see it and the list of events is exactly what happened.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from typing import Any

from casework.engine.errors import CommandRejected
from casework.engine.events import Event, Undo, apply
from casework.engine.lifecycle import (
    ACTIVE,
    AVAILABLE,
    DISABLED,
    ENABLED,
    FAILED,
    RAISED_EVENT,
    SUSPENDED,
    TERMINAL,
    next_state,
)
from casework.engine.plan import PlanIndex, repeats_on_completion
from casework.engine.state import EVENT_LIKE, CaseState, ItemInstance
from casework.expr import EvaluationError, Expression, ExpressionError, compile_expression
from casework.expr.juel import is_juel
from casework.model.definition import (
    CASE_PLAN,
    EVENT_LISTENER_KINDS,
    MILESTONE,
    STAGE_KINDS,
    TASK_KINDS,
    TIMER_EVENT,
    CaseDefinition,
    Criterion,
    PlanItemDef,
    Rule,
)
from casework.model.timers import TimerError, due_from, format_datetime

PendingKey = tuple[str, str, bool]

# A bound on the events (state changes) of one command, so that a plan that would change without end (a repetition
# that needs nothing to fire again) is rejected instead of holding its caller, and every command queued behind it,
# forever. The largest legitimate commands start, end or migrate a whole case: a few events per plan item (created,
# started, completed, a sentry's memory), about 3,000 for the 1,000-item plans of the benchmark. 10,000 leaves room
# for that, and bigger plans get 10 per item; at a few microseconds an event, a runaway is stopped within a fraction
# of a second and a few megabytes.
MAX_EVENTS = 10_000
MAX_EVENTS_PER_PLAN_ITEM = 10

_last_formatted: tuple[dt.datetime, str] | None = None


def _formatted(now: dt.datetime) -> str:
    # Commands in a batch share their timestamp; formatting it once per batch is measurably cheaper.
    # Read the shared memo once: another thread may replace it meanwhile.
    global _last_formatted
    last = _last_formatted
    if last is None or last[0] != now:
        last = (now, format_datetime(now))
        _last_formatted = last
    return last[1]


class Run:
    """One command's worth of engine work on one case."""

    def __init__(
        self,
        base: CaseDefinition,
        plan: PlanIndex,
        state: CaseState,
        now: dt.datetime,
        actor: str,
        reason: str | None,
        restore: bool = True,
    ) -> None:
        self.base = base
        self.plan = plan
        self.state = state
        self.now = now
        self.at = _formatted(now)
        self.actor = actor
        self.reason = reason
        self.events: list[Event] = []
        self.undo = Undo(state) if restore else None  # see `core.execute`
        self.max_events = max(MAX_EVENTS, MAX_EVENTS_PER_PLAN_ITEM * len(plan.items))
        self.queue: deque[Callable[[], None]] = deque()
        # Stages that start by themselves start before anything else queued: everything the start of a stage brings
        # into the case (its nested stages' items too) then exists before any of it starts or occurs and raises an
        # event, so an item in a nested stage hears a sibling stage's milestone whatever the order of the model.
        self.stage_queue: deque[Callable[[], None]] = deque()
        self.pending: dict[PendingKey, Criterion] = {}
        self.dirty_stages: dict[str, None] = {}
        self.closed_defs: dict[str, None] = {}
        # On-parts that fired during this command, not yet recorded: most sentries fire in the same command, and a
        # sentry that fired needs no memory, so memory events are written only for sentries still waiting.
        self.fired_parts: dict[tuple[str, str], tuple[list[int], bool]] = {}
        self.created: dict[str, None] = {}  # instances created by this command
        # Whether the transitions made now are the engine's, by the model's rules, rather than the one the command
        # asked for: see `transition`.
        self.automatic = False

    # -- recording ---------------------------------------------------------------------------------------------
    def emit(self, type_: str, payload: dict[str, Any]) -> Event:
        if len(self.events) >= self.max_events:
            raise CommandRejected(self.runaway())
        event = Event(type_, self.at, self.actor, self.reason, payload)
        if self.undo is not None:
            self.undo.note(type_, payload)
        apply(self.state, event)
        self.events.append(event)
        return event

    def runaway(self) -> str:
        """Why a command that reached `max_events` is stopped, naming the item that kept changing most."""
        created: dict[str, int] = {}
        touched: dict[str, int] = {}
        for event in self.events:
            if event.type == "item_created":
                created[event.payload["def"]] = created.get(event.payload["def"], 0) + 1
            item_id = event.payload.get("id") or event.payload.get("item")
            if isinstance(item_id, str) and item_id in self.state.items:
                def_id = self.state.items[item_id].def_id
                touched[def_id] = touched.get(def_id, 0) + 1
        counts, what = (created, "instances created") if created else (touched, "changes")
        culprit = max(counts, key=lambda d: counts[d]) if counts else None
        definition = self.plan.items.get(culprit) if culprit is not None else None
        name = definition.name if definition is not None else culprit
        blame = f": {name!r} kept changing ({counts[culprit]:,} {what})" if culprit is not None else ""
        return (
            f"the command was stopped after {len(self.events):,} changes to the case, more than one command may make"
            f"{blame}; nothing was changed"
        )

    # -- expressions -------------------------------------------------------------------------------------------
    def condition(
        self, expr: Expression | None, item: ItemInstance | None, where: str, *, failed: bool = False
    ) -> bool:
        """The value of ``expr`` for ``item``; ``failed`` when it cannot be evaluated (recorded on the case)."""
        if expr is None:
            return True
        if item is None:
            return self.evaluate_for(expr, None, None, where, failed=failed)
        local = {self.plan.items[item.def_id].counter_variable: item.index}
        return self.evaluate_for(expr, item.id, local, where, failed=failed)

    def evaluate_for(
        self, expr: Expression, item_id: str | None, local: dict[str, Any] | None, where: str, *, failed: bool
    ) -> bool:
        """``condition`` for an instance named by its id and local variables (one about to be created has no
        instance yet)."""
        try:
            return expr.evaluate_bool(self.state.variables, local)
        except EvaluationError as exc:
            # A broken condition is recorded on the case and counts as false; it never stops the engine. The same
            # failure seen again (a completion check repeats) is not recorded twice in a row.
            failure = {
                "id": item_id,
                "where": where,
                "expression": expr.source,
                "error": str(exc),
            }
            last = self.state.errors[-1] if self.state.errors else None
            if last is None or any(last.get(k) != v for k, v in failure.items()):
                self.emit("expression_failed", failure)
            return failed

    def assignee(self, definition: PlanItemDef) -> str | None:
        """The owner of a new instance: the model's user id, or its expression (`${initiator}`) evaluated on the
        case variables now. An expression that fails or gives no value leaves the task unassigned (recorded)."""
        text = definition.assignee
        if not text or "${" not in text:
            return text or None
        try:
            value = compile_expression(text).evaluate(self.state.variables)
        except (ExpressionError, EvaluationError) as exc:
            self.emit("expression_failed", {"id": None, "where": f"assignee of {definition.id}", "expression": text,
                                            "error": str(exc)})
            return None
        if value is None or value == "":
            return None
        # A user id is text; a whole number (an employee number) reads as one. Anything else (a list, a map, a
        # truth value) would make a user named "['ann', 'bob']" or "True": record it and leave the task open.
        if isinstance(value, str):
            return value.strip() or None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        self.emit("expression_failed", {"id": None, "where": f"assignee of {definition.id}", "expression": text,
                                        "error": f"gave {type(value).__name__} {value!r:.60}, not a user id"})
        return None

    def model_due(self, item: ItemInstance, text: str) -> str | None:
        """The due time that a model's dueDate gives ``item`` starting now: a duration counts from now. An expression
        that fails or gives no time leaves the task without one, recorded (the case goes on, as with an assignee);
        one that gives null from the case's data leaves it without one unrecorded, as in Flowable. Flowable fails on
        a variable the case does not have; EL reads it as null here, so that is recorded."""
        value: Any = text
        try:
            if is_juel(text):
                local = {self.plan.items[item.def_id].counter_variable: item.index}
                expression = compile_expression(text)
                value = expression.evaluate(self.state.variables, local)
                missing = sorted(expression.variables - set(self.state.variables) - set(local))
                if value is None and missing:
                    raise EvaluationError(f"no case variable {', '.join(map(repr, missing))}")
            if value is None:
                return None
            if isinstance(value, dt.datetime):
                return format_datetime(value)
            if isinstance(value, dt.date):
                return format_datetime(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC))
            if not isinstance(value, str):
                raise TimerError(f"gave {type(value).__name__} {value!r:.60}, not a duration, date-time or date")
            return format_datetime(due_from(value, self.now))
        except (ExpressionError, EvaluationError, TimerError) as exc:
            self.emit("expression_failed", {"id": item.id, "where": "dueDate", "expression": text, "error": str(exc)})
            return None

    def rule_holds(self, rule: Rule | None, item: ItemInstance, where: str) -> bool:
        return rule is not None and self.condition(rule.condition, item, where)

    def is_required(self, item: ItemInstance) -> bool:
        rule = self.plan.items[item.def_id].required
        if rule is None or rule.condition is None:
            # Constant, also after a migration to a model that dropped the condition or the rule.
            return rule is not None
        if item.required is not None:
            return item.required
        # An instance of a case recorded before the value was kept on creation reads its rule now, as it always did.
        return self.condition(rule.condition, item, "requiredRule")

    def required_on_creation(self, definition: PlanItemDef, item_id: str, index: int) -> bool | None:
        """The value of ``definition``'s conditional required rule for a new instance, kept for the rest of the case
        (CMMN 1.1 PlanItemControl: evaluated when the item is instantiated and enters available, not each time its
        stage looks at its completion); None when the rule has no condition or there is none."""
        rule = definition.required
        if rule is None or rule.condition is None:
            return None
        local = {definition.counter_variable: index}
        return self.evaluate_for(rule.condition, item_id, local, "requiredRule", failed=False)

    # -- the loop ----------------------------------------------------------------------------------------------
    def settle(self) -> None:
        outer, self.automatic = self.automatic, True
        self._settle()
        self.automatic = outer

    def _settle(self) -> None:
        while True:
            if self.stage_queue:
                self.stage_queue.popleft()()
                continue
            if self.queue:
                self.queue.popleft()()
                continue
            if self.pending:
                batch = list(self.pending.items())
                self.pending.clear()
                if len(batch) > 1:
                    # Stages whose entry criteria hold start first, for the reason of `stage_queue`.
                    items = self.state.items
                    batch.sort(key=lambda entry: entry[0][2] or items[entry[0][0]].kind not in STAGE_KINDS)
                for (item_id, _, is_exit), criterion in batch:
                    self.evaluate(self.state.items[item_id], criterion, is_exit)
                self.record_memory()
                continue
            if self.dirty_stages:
                batch_ids = list(self.dirty_stages)
                self.dirty_stages.clear()
                for stage_id in batch_ids:
                    self.check_completion(self.state.items[stage_id])
                continue
            if self.closed_defs:
                closed = list(self.closed_defs)
                self.closed_defs.clear()
                self.remove_orphan_listeners(closed)
                continue
            break

    # -- transitions -------------------------------------------------------------------------------------------
    def transition(
        self,
        item: ItemInstance,
        transition: str,
        *,
        held_by_parent: bool = False,
        cause: Criterion | None = None,
        by: str | None = None,
    ) -> None:
        """Move ``item`` by ``transition`` and raise its event; ``cause`` is the exit criterion of its own that made
        it exit, for on-parts that wait for that one (exitCriterionRef); ``by`` what ended it when that is not the
        case's own course ("migration").

        A transition the engine makes by the model's rules (a sentry fires, a stage completes by itself, a stage's
        items end or wait with it) is marked ``auto``: the event's actor caused it, by the command, but did not do
        it, and exports and per-person figures must not say that person did (`casework.performed`). Unmarked: the
        transition the command itself asked for, or one recorded before the mark existed."""
        before = item.state
        to = next_state(item.kind, before, transition, item.suspended_from)
        payload: dict[str, Any] = {"id": item.id, "transition": transition, "from": before, "to": to}
        if held_by_parent:
            payload["held_by_parent"] = True
        if by is not None:
            payload["by"] = by
        if self.automatic:
            payload["auto"] = True
        if item.kind == TIMER_EVENT and transition in ("suspend", "resume"):
            # Kept on the instance: a migration that changes its start trigger needs to know when it was deaf.
            payload["hold"] = True
        # None only for an instance whose item left the plan in a migration and is being closed.
        definition = self.plan.items.get(item.def_id)
        if to == ACTIVE and before in (AVAILABLE, ENABLED) and definition is not None and definition.due_date:
            # Flowable makes the work item, and counts its due date from, the moment the task becomes active. A due
            # time a worker set while it waited stands (`set_due`): the model's is the default, not an override.
            due = self.model_due(item, definition.due_date) if item.due is None else None
            if due is not None:
                payload["due"] = due
        kept: dict[str, list[int]] | None = None
        if before == AVAILABLE and item.memory and to not in TERMINAL and not held_by_parent:
            # Leaving available forgets the sentries that fired (see `events`), but exit criteria still apply: what
            # their on-parts heard is remembered until they fire (CMMN 1.1 §8.4.2, §7.4 sentries). A worker who
            # suspends a waiting item puts it on hold: resumed, it waits on with what its entry criteria heard.
            # Restated by events, so that replay agrees without `apply` deciding which memory stays.
            if transition == "suspend":
                kept = {criterion: list(parts) for criterion, parts in item.memory.items()}
            elif transition != "parentSuspend":
                kept = self.exit_memory(item)
        self.emit("item_transition", payload)
        if kept:
            for criterion_id, parts in kept.items():
                self.emit("memory", {"id": item.id, "criterion": criterion_id, "parts": parts})
        if item.parent is not None:
            self.dirty_stages[item.parent] = None
        if to in TERMINAL and item.def_id in self.plan.listener_watchers:
            self.closed_defs[item.def_id] = None
        if to in TERMINAL and item.kind in EVENT_LISTENER_KINDS:
            # An item elsewhere that waits only for this listener can no longer start and no longer holds its stage
            # (`reachable`): that stage may complete now.
            for owner in self.plan.listener_owners.get(item.def_id, ()):
                for waiting in self.state.live(owner):
                    if waiting.parent is not None and waiting.state == AVAILABLE:
                        self.dirty_stages[waiting.parent] = None
        if to == ACTIVE and before != SUSPENDED:
            if item.kind in STAGE_KINDS:
                self.dirty_stages[item.id] = None
                self.create_children(item)
            elif item.kind in TASK_KINDS and definition is not None and not (
                definition.blocking if definition.blocking_expression is None else self.blocks(item, definition)
            ):
                self.queue.append(lambda: self.complete_if_active(item))
        if transition == "skip" and item.kind in EVENT_LISTENER_KINDS | {MILESTONE}:
            self.raise_event(item, "occur")
        else:
            self.raise_event(item, RAISED_EVENT.get(transition, transition), cause)
        # A skipped occurrence is completed too: the series goes on (remove or terminate is how it stops).
        completed = transition == "complete" or (transition == "skip" and item.kind not in EVENT_LIKE)
        if completed and definition and definition.repetition is not None and repeats_on_completion(definition):
            self.queue.append(lambda: self.repeat_after_completion(item))

    def exit_memory(self, item: ItemInstance) -> dict[str, list[int]]:
        """What ``item`` remembers of the on-parts of its exit criteria."""
        definition = self.plan.items.get(item.def_id)
        if definition is None or not definition.exit:
            return {}
        return {c.id: item.memory[c.id] for c in definition.exit if c.id in item.memory}

    def blocks(self, item: ItemInstance, definition: PlanItemDef) -> bool:
        """Whether a task that starts waits for its work, by its flowable:isBlockingExpression evaluated now. One
        that fails is recorded and the task waits: completing it unseen would lose the work."""
        return self.condition(definition.blocking_expression, item, "isBlockingExpression", failed=True)

    def complete_if_active(self, item: ItemInstance) -> None:
        if item.state == ACTIVE:
            self.transition(item, "complete")

    def raise_event(self, source: ItemInstance, event: str, cause: Criterion | None = None) -> None:
        listeners = self.plan.on_event.get((source.def_id, event))
        if listeners:
            self._satisfy(listeners, cause)

    def raise_file_event(self, file_item_id: str, event: str) -> None:
        listeners = self.plan.on_file.get((file_item_id, event))
        if listeners:
            self._satisfy(listeners)

    def _satisfy(self, listeners: list[tuple[str, Criterion, int, bool]], cause: Criterion | None = None) -> None:
        for owner, criterion, part, is_exit in listeners:
            wanted = criterion.sentry.on_parts[part].exit_criterion
            if wanted and (cause is None or wanted not in (cause.id, cause.sentry.id)):
                continue  # it waits for the source to exit by another of its exit criteria
            for target in self.state.live(owner):
                if not self._hears(target, is_exit):
                    continue
                parts = self.memory(target, criterion.id)
                if part not in parts:
                    self.fired_parts[(target.id, criterion.id)] = (sorted([*parts, part]), is_exit)
                self.pending[(target.id, criterion.id, is_exit)] = criterion

    def memory(self, item: ItemInstance, criterion_id: str) -> list[int]:
        """The on-parts of a criterion that have fired for ``item``, including those of this command."""
        fired = self.fired_parts.get((item.id, criterion_id))
        return fired[0] if fired is not None else item.memory.get(criterion_id, [])

    def record_memory(self) -> None:
        """Write memory events for the sentries that are still waiting (and not about to be evaluated again)."""
        if not self.fired_parts:
            return
        scheduled = {(item_id, criterion_id) for item_id, criterion_id, _ in self.pending}
        fired, self.fired_parts = self.fired_parts, {}
        for (item_id, criterion_id), (parts, is_exit) in fired.items():
            if (item_id, criterion_id) in scheduled:
                self.fired_parts[(item_id, criterion_id)] = (parts, is_exit)
            elif self._hears(self.state.items[item_id], is_exit):
                self.emit("memory", {"id": item_id, "criterion": criterion_id, "parts": parts})

    def _listens(self, target: ItemInstance, is_exit: bool) -> bool:
        """Whether a criterion of ``target`` that holds now takes effect."""
        if is_exit:
            return target.state not in TERMINAL and (target.kind != CASE_PLAN or target.state == ACTIVE)
        return target.state == AVAILABLE

    def _hears(self, target: ItemInstance, is_exit: bool) -> bool:
        """Whether ``target`` remembers an on-part that fires now. An item waiting in a suspended stage does: it
        does not start while the stage is on hold, and sees on resuming what happened meanwhile (as Camunda)."""
        if is_exit or target.state != SUSPENDED:
            return self._listens(target, is_exit)
        if target.kind in EVENT_LISTENER_KINDS or target.kind == MILESTONE:
            return target.held_by_parent
        return target.suspended_from == AVAILABLE

    # -- sentries ----------------------------------------------------------------------------------------------
    def evaluate(self, item: ItemInstance, criterion: Criterion, is_exit: bool) -> None:
        if not self._listens(item, is_exit):
            return
        sentry = criterion.sentry
        if len(self.memory(item, criterion.id)) < len(sentry.on_parts):
            return
        if not self.condition(sentry.if_part, item, f"ifPart of {criterion.id}"):
            return
        if is_exit:
            self.exit(item, criterion)
        else:
            self.fire_entry(item)

    def prefill_completed(self, item: ItemInstance) -> None:
        """Dependencies added at run time count items that already completed as done; modelled on-parts of the same
        criteria do not, so adding a dependency never lets an item start sooner."""
        for criterion in self.plan.items[item.def_id].entry:
            parts = self.memory(item, criterion.id)
            done = [
                n
                for n, part in enumerate(criterion.sentry.on_parts)
                if n not in parts
                and part.added
                and part.kind == "planItem"
                and part.event in ("complete", "occur")
                and self.has_completed(part.source)
            ]
            if done:
                self.fired_parts[(item.id, criterion.id)] = (sorted([*parts, *done]), False)
            self.pending[(item.id, criterion.id, False)] = criterion

    def unmet_dependencies(self, item: ItemInstance) -> list[str]:
        """Names of the items that dependencies added at run time make ``item`` wait for and that have not completed.
        An item that was already enabled when it gained a dependency has left the state in which sentries hold it
        back (CMMN has no way back to available); this is what holds it back until they complete."""
        if item.def_id not in self.plan.dependents:
            return []
        waiting: dict[str, None] = {}
        for criterion in self.plan.items[item.def_id].entry:
            for part in criterion.sentry.on_parts:
                if part.added and part.kind == "planItem" and not self.has_completed(part.source):
                    source = self.plan.items.get(part.source)
                    waiting[source.name if source is not None else part.source] = None
        return list(waiting)

    def has_completed(self, def_id: str) -> bool:
        return any(i.state == "completed" for i in self.state.instances_of(def_id))

    def schedule_criteria(self, item: ItemInstance, *, entry: bool = True) -> None:
        definition = self.plan.items[item.def_id]
        if entry:
            for criterion in definition.entry:
                self.pending[(item.id, criterion.id, False)] = criterion
        for criterion in definition.exit:
            self.pending[(item.id, criterion.id, True)] = criterion

    def fire_entry(self, item: ItemInstance) -> None:
        definition = self.plan.items[item.def_id]
        if definition.repetition is not None and self.rule_holds(definition.repetition, item, "repetitionRule"):
            parent = self.state.items[item.parent] if item.parent else None
            if parent is not None and parent.state == ACTIVE:
                self.create_next(definition, parent, item.index + 1)
        self.activate(item)

    def create_next(self, definition: PlanItemDef, parent: ItemInstance, index: int) -> None:
        """The next instance of a repeating item whose entry criterion fired. It waits for the sentry to fire again
        and must not see the firing that made it, except for dependencies added at run time on items that completed
        and cannot come again: "B after A" holds B back until A is done, not until A completes once more, which would
        never happen. Their on-parts are remembered as heard (memory events: `apply` and stored logs unchanged)."""
        settled = self.settled_dependencies(definition)
        if repeats_on_completion(definition) and any(
            len(settled.get(c.id, ())) == len(c.sentry.on_parts) for c in definition.entry
        ):
            return  # nothing left to wait for: the next instance comes when this one completes, as with no criteria
        following = self.create_instance(definition, parent, index=index, evaluate_entry=False)
        for criterion_id, parts in settled.items():
            self.emit("memory", {"id": following.id, "criterion": criterion_id, "parts": parts})

    def settled_dependencies(self, definition: PlanItemDef) -> dict[str, list[int]]:
        """criterion id -> its on-parts added at run time whose item completed and cannot come again by itself. A
        discretionary item that a worker planned and that completed is done: planning it again would be a new
        decision, which "after" does not wait for (it would wait for ever)."""
        settled: dict[str, list[int]] = {}
        for criterion in definition.entry:
            parts = [
                n
                for n, part in enumerate(criterion.sentry.on_parts)
                if part.added and part.kind == "planItem" and self.has_completed(part.source)
                and not self.may_come_again(part.source, planned_again=False)
            ]
            if parts:
                settled[criterion.id] = parts
        return settled

    def hear_settled_dependencies(self, item: ItemInstance) -> None:
        """An item on hold hears nothing; a dependency added at run time whose item completed meanwhile, and cannot
        complete again, is met all the same ("B after A" waits until A is done, see `create_next`): stated by memory
        events, or the item would wait for ever."""
        for criterion_id, parts in self.settled_dependencies(self.plan.items[item.def_id]).items():
            heard = item.memory.get(criterion_id, [])
            merged = sorted({*heard, *parts})
            if merged != sorted(heard):
                self.emit("memory", {"id": item.id, "criterion": criterion_id, "parts": merged})

    def may_come_again(self, def_id: str, *, planned_again: bool = True) -> bool:
        """Whether item ``def_id`` has an open instance or may get a new one: it repeats (its next instance exists
        while the series goes on), a stage around it may start anew, or (with ``planned_again``) it or a stage
        around it is discretionary, and a worker may plan it again. Without ``planned_again`` a discretionary item
        (or one inside a discretionary stage) cannot come again at all: a new instance of a repeating stage around it
        does not create it, only planning it does."""
        return bool(self.state.live_by_def.get(def_id)) or self._may_be_created(def_id, planned_again)

    def _may_be_created(self, def_id: str, planned_again: bool) -> bool:
        definition = self.plan.items.get(def_id)
        if definition is None:
            return False
        stage = self.plan.items.get(definition.parent) if definition.parent is not None else None
        if definition.discretionary:
            # Planned only into its stage while that runs: once the stage has ended for good it cannot come again.
            return (
                planned_again
                and stage is not None
                and (bool(self.state.live_by_def.get(stage.id)) or self._may_be_created(stage.id, planned_again))
            )
        if stage is None:
            return False
        return (stage.repetition is not None and bool(self.state.live_by_def.get(stage.id))) or self._may_be_created(
            stage.id, planned_again
        )

    def dead_dependencies(self, item: ItemInstance) -> list[str]:
        """Names of the items that dependencies added at run time make ``item`` wait for and that can never complete
        (again): they ended, terminated or with their one completion spent, and cannot come again."""
        dead: dict[str, None] = {}
        for criterion in self.plan.items[item.def_id].entry:
            heard = item.memory.get(criterion.id, [])
            for n, part in enumerate(criterion.sentry.on_parts):
                source = self.plan.items.get(part.source)
                if (
                    n not in heard
                    and part.added
                    and part.kind == "planItem"
                    and source is not None
                    and self.state.ever_created(source.id)
                    and not self.may_come_again(source.id)
                ):
                    dead[source.name] = None
        return list(dead)

    # -- creating and starting ---------------------------------------------------------------------------------
    def new_id(self) -> str:
        return f"i{self.state.next_id}"

    def create_instance(
        self, definition: PlanItemDef, parent: ItemInstance | None, *, index: int = 1, evaluate_entry: bool = True
    ) -> ItemInstance:
        owner = self.assignee(definition)
        payload: dict[str, Any] = {
            "id": self.new_id(),
            "def": definition.id,
            "name": definition.name,
            "kind": definition.kind,
            "parent": parent.id if parent else None,
            "index": index,
            "owner": owner,
            "due": definition.due,
        }
        required = self.required_on_creation(definition, payload["id"], index)
        if required is not None:  # only then: the events of items without a conditional rule stay as they were
            payload["required"] = required
        self.emit("item_created", payload)
        item = self.state.items[f"i{self.state.next_id - 1}"]
        self.created[item.id] = None
        # Also for a modelled item that gained a dependency: its instance may be created long after the dependency
        # (its stage starts, it is planned, its stage repeats) and must see what completed meanwhile.
        # A repetition instance (evaluate_entry=False) waits for its dependencies to complete again: counting their
        # earlier completion as done would fire it at once, and every next instance with it, without end.
        if evaluate_entry and definition.id in self.plan.dependents:
            self.prefill_completed(item)
        if parent is not None:
            self.dirty_stages[parent.id] = None
        self.raise_event(item, "create")
        if definition.kind == TIMER_EVENT and definition.timer_start is None and evaluate_entry:
            # A cycle's next firing (evaluate_entry=False) is scheduled by its creator, from the firing before: a
            # first due time from now would record a time the timer never had.
            self.schedule_timer(item, definition)
        if evaluate_entry and not definition.entry:
            queue = self.stage_queue if definition.kind in STAGE_KINDS else self.queue
            queue.append(lambda: self.activate_if_available(item))
        self.schedule_criteria(item, entry=evaluate_entry)
        if parent is not None and parent.state == SUSPENDED:
            # Created in a stage on hold (an item added to it): it waits with the rest until the stage resumes.
            self.suspend_with_parent(item)
        return item

    def create_children(self, stage: ItemInstance) -> None:
        for child_def in self.plan.children_of(stage.def_id):
            if not child_def.discretionary:
                self.create_instance(child_def, stage)

    def activate_if_available(self, item: ItemInstance) -> None:
        if item.state == AVAILABLE:
            self.activate(item)

    def schedule_timer(self, item: ItemInstance, definition: PlanItemDef) -> None:
        if definition.timer is None:
            return
        try:
            due = format_datetime(definition.timer.first_due(self.now))
        except TimerError as exc:  # a model's duration that no calendar holds from now (or fractional years)
            raise CommandRejected(f"the timer of {definition.name!r} cannot be scheduled: {exc}") from exc
        self.emit("timer_scheduled", {"id": item.id, "due": due})

    def activate(self, item: ItemInstance) -> None:
        """The item's entry condition holds (or it has none): it starts, becomes enabled, or occurs."""
        definition = self.plan.items[item.def_id]
        if definition.kind in EVENT_LISTENER_KINDS:
            if definition.timer_start is not None and item.id not in self.state.timers:
                self.schedule_timer(item, definition)  # its start trigger happened: it counts from now, once
            return
        if definition.kind == MILESTONE:
            self.transition(item, "occur")
            return
        if self.rule_holds(definition.manual, item, "manualActivationRule"):
            self.transition(item, "enable")
        else:
            self.transition(item, "start")

    def repeat_after_completion(self, item: ItemInstance) -> None:
        definition = self.plan.items[item.def_id]
        parent = self.state.items[item.parent] if item.parent else None
        if parent is None or parent.state != ACTIVE or definition.repetition is None:
            return
        if definition.entry and any(i.parent == parent.id and i.not_started for i in self.state.live(definition.id)):
            return  # the next instance is waiting already (created when this one's dependencies were met)
        if item.id in self.created and definition.repetition.condition is None:
            # An instance that ended in the command that created it needed no one (an empty stage, a non-blocking
            # task); with a rule that always holds, its next instance would do the same, forever. Repetition
            # waits for a completion that took work instead (docs/semantics.md, Repetition).
            return
        if self.rule_holds(definition.repetition, item, "repetitionRule"):
            self.create_instance(definition, parent, index=item.index + 1)

    # -- ending ------------------------------------------------------------------------------------------------
    def exit(self, item: ItemInstance, cause: Criterion | None = None) -> None:
        """An exit criterion (``cause``) fired, or the parent ended: the item and everything in it is terminated."""
        self.end_children(item)
        if item.state not in TERMINAL:
            self.transition(item, "exit", cause=cause)

    def end_children(self, item: ItemInstance) -> None:
        outer, self.automatic = self.automatic, True
        for child in self.state.child_items(item.id):
            if child.state in TERMINAL:
                continue
            if child.kind in STAGE_KINDS:
                self.end_children(child)
            self.transition(child, "parentTerminate" if child.kind in EVENT_LISTENER_KINDS | {MILESTONE} else "exit")
        self.automatic = outer

    def suspend(self, item: ItemInstance, transition: str) -> None:
        """Suspend an item; a stage's open children go on hold with it (CMMN 1.1 §8.4.2: tasks and stages that are
        available, enabled, disabled or active by parentSuspend, milestones and event listeners by suspend), so that
        nothing in a suspended stage starts, occurs or fires its timer."""
        self.transition(item, transition)
        if item.kind in STAGE_KINDS:
            outer, self.automatic = self.automatic, True
            for child in self.state.child_items(item.id):
                self.suspend_with_parent(child)
            self.automatic = outer

    def suspend_with_parent(self, child: ItemInstance) -> None:
        if child.kind in EVENT_LISTENER_KINDS or child.kind == MILESTONE:
            if child.state == AVAILABLE:
                self.transition(child, "suspend", held_by_parent=True)
        elif child.state in (AVAILABLE, ENABLED, DISABLED, ACTIVE):
            self.suspend(child, "parentSuspend")

    def resume(self, item: ItemInstance, transition: str) -> None:
        """Resume an item; a stage's children held with it return to where they were (parentResume)."""
        self.transition(item, transition)
        if item.state == AVAILABLE:
            self.wake(item)
        if item.kind in STAGE_KINDS and item.state == ACTIVE:
            # What held it may have gone while it was suspended (an item removed from it): it may complete now.
            self.dirty_stages[item.id] = None
            outer, self.automatic = self.automatic, True
            for child in self.state.child_items(item.id):
                if child.state == SUSPENDED and child.held_by_parent:
                    self.resume(child, "resume" if child.kind in EVENT_LISTENER_KINDS | {MILESTONE} else "parentResume")
            self.automatic = outer

    def wake(self, item: ItemInstance) -> None:
        """An item waits again after a suspension: its criteria may hold by now (on-parts it heard meanwhile, case
        data that changed), and one that waits for nothing starts."""
        self.hear_settled_dependencies(item)
        self.schedule_criteria(item)
        if not self.plan.items[item.def_id].entry:
            self.queue.append(lambda: self.activate_if_available(item))

    def terminate(self, item: ItemInstance) -> None:
        self.end_children(item)
        self.transition(item, "terminate")

    def complete_stage(self, stage: ItemInstance) -> None:
        self.end_children(stage)
        self.transition(stage, "complete")

    def check_completion(self, stage: ItemInstance) -> None:
        if stage.state != ACTIVE or stage.kind not in STAGE_KINDS:
            return
        if self.state.busy_children.get(stage.id, 0) > 0 or self.blocking_children(stage, first_only=True):
            return
        if self.open_for_planning(stage):
            return
        self.complete_stage(stage)

    def open_for_planning(self, stage: ItemInstance) -> bool:
        """Whether ``stage`` waits for work to be planned into it, and completes only by hand (`complete_stage`) or
        once that work is planned and done. CMMN 1.1 completes a stage that is not autoComplete by itself only when
        no discretionary item remains to be planned; a stage added at run time is there for workers to add work to,
        and waits for its first item."""
        if self.unplanned(stage):
            return True
        return self.plan.items[stage.def_id].added and stage.id not in self.state.children

    def unplanned(self, stage: ItemInstance) -> list[str]:
        """The discretionary items of ``stage``'s own planning table that remain to be planned into it: not planned
        into this instance of the stage, nor removed by a worker. One that was planned counts as any child does,
        however it ended; planning it again is a worker's new decision, which the stage does not wait for."""
        table = self.plan.planned_stages.get(stage.def_id)
        if not table:
            return []
        planned = {child.def_id for child in self.state.child_items(stage.id)}
        return [item for item in table if item not in planned]

    def blocking_children(self, stage: ItemInstance, *, first_only: bool = False) -> list[ItemInstance]:
        """Children that keep ``stage`` from completing by itself (empty when it can complete)."""
        auto = self.plan.items[stage.def_id].auto_complete
        blocking: list[ItemInstance] = []
        for child in self.state.child_items(stage.id):
            state = child.state
            if state in TERMINAL or state == DISABLED or child.kind in EVENT_LISTENER_KINDS:
                continue
            if state in (ACTIVE, SUSPENDED, FAILED):
                blocking.append(child)
            elif state == ENABLED:
                if not auto or self.is_required(child):
                    blocking.append(child)
            elif state == AVAILABLE and (self.is_required(child) or (not auto and self.reachable(child))):
                blocking.append(child)
            if blocking and first_only:
                break
        return blocking

    def completable(self, stage: ItemInstance) -> list[ItemInstance]:
        """Children that keep ``stage`` from being completed by hand: active ones and open required ones."""
        return [
            c
            for c in self.state.child_items(stage.id)
            if c.state not in TERMINAL
            and c.kind not in EVENT_LISTENER_KINDS
            and (c.state in (ACTIVE, SUSPENDED, FAILED) or (c.state != DISABLED and self.is_required(c)))
        ]

    def reachable(self, item: ItemInstance) -> bool:
        """Whether an available item may still start, for the completion of a stage that is not autoComplete.

        CMMN 1.1 lets any available child hold its stage open. The one exception made here is Flowable's: an item
        whose every entry criterion waits for an event listener that has ended (a consumed user event, a fired
        timer) can never start, so it no longer holds the stage. Items waiting on tasks keep holding it, as in
        Camunda (see docs/semantics.md).
        """
        definition = self.plan.items[item.def_id]
        if not definition.entry:
            return True
        for criterion in definition.entry:
            fired = item.memory.get(criterion.id, [])
            if all(
                n in fired or part.kind != "planItem" or not self._listener_spent(part.source)
                for n, part in enumerate(criterion.sentry.on_parts)
            ):
                return True
        return False

    def _listener_spent(self, def_id: str) -> bool:
        definition = self.plan.items.get(def_id)
        if definition is None or definition.kind not in EVENT_LISTENER_KINDS:
            return False
        return not self.state.live_by_def.get(def_id) and self.state.ever_created(def_id)

    def _stage_open_for(self, definition: PlanItemDef) -> bool:
        if definition.parent is None:
            return False
        live = self.state.live_by_def.get(definition.parent)
        if live:
            return True
        parent_def = self.plan.items.get(definition.parent)
        if parent_def is None or parent_def.parent is None:
            return False
        return not self.state.ever_created(parent_def.id) and self._stage_open_for(parent_def)

    def remove_orphan_listeners(self, closed_defs: list[str]) -> None:
        """An event listener that nothing open can react to any more is terminated (as Flowable does)."""
        sources: dict[str, None] = {}
        for owner in closed_defs:
            definition = self.plan.items.get(owner)
            if definition is None:
                continue
            for criterion in (*definition.entry, *definition.exit):
                for part in criterion.sentry.on_parts:
                    src = self.plan.items.get(part.source)
                    if part.kind == "planItem" and src is not None and src.kind in EVENT_LISTENER_KINDS:
                        sources[src.id] = None
        for listener_def in sources:
            owners = self.plan.listener_owners.get(listener_def, set())
            if any(self._may_still_react(o) for o in owners):
                continue
            for listener in self.state.live(listener_def):
                if listener.state == AVAILABLE:
                    self.transition(listener, "terminate")

    def _may_still_react(self, owner_def: str) -> bool:
        if self.state.live_by_def.get(owner_def):
            return True
        definition = self.plan.items.get(owner_def)
        if definition is None:
            return False
        return not self.state.ever_created(owner_def) and self._stage_open_for(definition)
