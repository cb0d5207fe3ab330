"""Migrating a running case to another version of its model.

``plan_migration`` is the dry run: item by item, what maps, what is new, what disappears and what cannot be migrated
and why. ``Migrate`` applies exactly that plan, recorded as one ``migrate`` event; ad hoc items added to the case
survive when the stage that holds them still exists. The events after it restate, in the new model's terms, what the
case remembers of its sentries and the case roles its participants hold, and the lifecycle changes the new model
makes (items that leave, items that are new, waiting items that it lets start).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from casework.engine import commands as c
from casework.engine.core import handles, plan_for
from casework.engine.errors import CommandRejected
from casework.engine.lifecycle import ACTIVE, AVAILABLE, COMPLETED, SUSPENDED, TERMINAL
from casework.engine.plan import PlanIndex, effective_plan, part_key, restated_memory
from casework.engine.runner import Run
from casework.engine.state import CaseState, ItemInstance
from casework.model.definition import (
    CASE_PLAN,
    TIMER_EVENT,
    TIMER_START,
    CaseDefinition,
    CaseRole,
    OnPart,
    PlanItemDef,
)
from casework.model.timers import TimerError, format_datetime, parse_datetime, subtract_duration


@dataclass(frozen=True)
class MigrationEntry:
    item: str  # plan item id in the current plan
    name: str
    outcome: str  # "maps", "new", "disappears", "cannot"
    target: str | None = None  # plan item id in the new model
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "name": self.name,
            "outcome": self.outcome,
            "target": self.target,
            "detail": self.detail,
        }


@dataclass
class MigrationPlan:
    entries: list[MigrationEntry] = field(default_factory=list)
    remap: dict[str, str] = field(default_factory=dict)  # instance id -> new plan item id
    vanishing: list[str] = field(default_factory=list)  # open, not started instances that leave the plan
    overlay: list[dict[str, Any]] = field(default_factory=list)
    # plan item id in the current plan -> its id in the new one (modelled and added items that map); not recorded
    # in the event, which has what replay needs (`remap`)
    sources: dict[str, str] = field(default_factory=dict)
    # case file item id in the current model -> its id in the new one: the item of the same name, since a case file
    # item is the case variable of its name (an on-part on it waits for the same data whatever its id)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def blocked(self) -> list[MigrationEntry]:
        return [e for e in self.entries if e.outcome == "cannot"]

    def to_dict(self) -> dict[str, Any]:
        return {"entries": [e.to_dict() for e in self.entries], "remap": self.remap, "vanishing": self.vanishing}


def _counterpart(item: PlanItemDef, new: CaseDefinition, mapping: dict[str, str]) -> PlanItemDef | None:
    if item.kind == CASE_PLAN:
        return new.plan
    if item.id in new.items and new.items[item.id].kind == item.kind:
        return new.items[item.id]
    same_name = [d for d in new.items.values() if d.name == item.name and d.kind == item.kind]
    if len(same_name) == 1 and same_name[0].id not in mapping.values():
        return same_name[0]
    return None


def _absence(item: PlanItemDef, new: CaseDefinition) -> str:
    """Why ``item`` has no counterpart in ``new``: a plan item of its id or name that is of another kind (a task
    made a milestone) is there, and saying "absent" would send the modeller looking for the wrong mistake."""
    other = new.items.get(item.id) or next((d for d in new.items.values() if d.name == item.name), None)
    if other is not None and other.kind != item.kind:
        return f"a {other.kind} in the new model, not a {item.kind}"
    return "absent from the new model"


def plan_migration(current: CaseDefinition, state: CaseState, new: CaseDefinition) -> MigrationPlan:
    old_plan = plan_for(current, state)
    plan = MigrationPlan()
    mapping: dict[str, str] = {}
    modelled = [d for d in old_plan.items.values() if not d.added]
    for item in modelled:
        target = _counterpart(item, new, mapping)
        if target is not None:
            mapping[item.id] = target.id
    for item in modelled:
        instances = state.instances_of(item.id)
        open_instances = [i for i in instances if i.state not in TERMINAL]
        target_id = mapping.get(item.id)
        if target_id is None:
            started = [i for i in open_instances if not i.not_started]
            if started:
                detail = f"{started[0].state} here and {_absence(item, new)}; complete or terminate it first"
                plan.entries.append(MigrationEntry(item.id, item.name, "cannot", None, detail))
            else:
                detail = f"{len(open_instances)} open instance(s) leave the plan" if open_instances else ""
                plan.entries.append(MigrationEntry(item.id, item.name, "disappears", None, detail))
                plan.vanishing.extend(i.id for i in open_instances)
            continue
        target = new.items[target_id]
        if item.parent is not None and mapping.get(item.parent) != target.parent and open_instances:
            detail = "moved to another stage in the new model while it has open instances"
            plan.entries.append(MigrationEntry(item.id, item.name, "cannot", target_id, detail))
            continue
        for instance in instances:
            plan.remap[instance.id] = target_id
        how = "same id" if target_id == item.id else "same name"
        plan.entries.append(MigrationEntry(item.id, item.name, "maps", target_id, how))
    reverse = set(mapping.values())
    for target in new.items.values():
        if target.id not in reverse:
            plan.entries.append(MigrationEntry(target.id, target.name, "new", target.id, ""))
    _carry_overlay(state, old_plan, new, mapping, plan)
    for file_item in current.case_file_items.values():
        counterpart = new.case_file_item_by_name(file_item.name)
        if counterpart is not None:
            plan.files[file_item.id] = counterpart.id
    return plan


def _carry_overlay(
    state: CaseState, old_plan: PlanIndex, new: CaseDefinition, mapping: dict[str, str], plan: MigrationPlan
) -> None:
    added_ids = {op["def"]["id"] for op in state.overlay if op.get("op") == "add_item"}
    full = {**mapping, **{a: a for a in added_ids}}
    plan.sources = full
    for op in state.overlay:
        kind = op.get("op")
        if kind == "add_item":
            spec = dict(op["def"])
            parent = full.get(spec["parent"])
            item = old_plan.items[spec["id"]]
            open_instances = [i for i in state.live(spec["id"])]
            if parent is None:
                outcome = "cannot" if open_instances else "disappears"
                detail = "its stage is absent from the new model"
                plan.entries.append(MigrationEntry(spec["id"], item.name, outcome, None, detail))
                continue
            spec["parent"] = parent
            spec["after"] = [full[a] for a in spec.get("after", []) if a in full]
            plan.overlay.append({"op": "add_item", "def": spec})
            for instance in state.instances_of(spec["id"]):
                plan.remap[instance.id] = spec["id"]
            plan.entries.append(MigrationEntry(spec["id"], item.name, "maps", spec["id"], "added while the case ran"))
        elif kind == "add_dependency":
            # Waiting for an item that leaves the plan would wait for ever; the items still there are waited for.
            after = [full[a] for a in op["after"] if a in full]
            if op["item"] in full and after:
                plan.overlay.append({**op, "item": full[op["item"]], "after": after})
        elif kind == "remove" and op["item"] in full:
            plan.overlay.append({**op, "item": full[op["item"]]})


@handles(c.Migrate)
def _migrate(run: Run, cmd: c.Migrate) -> None:
    # The field is typed Any (a definition object cannot be checked like text), so it is checked here.
    if not isinstance(cmd.definition, CaseDefinition):
        what = type(cmd.definition).__name__
        raise CommandRejected(f"Migrate.definition must be a case definition (a loaded model), not {what}")
    new = cmd.definition
    plan = plan_migration(run.base, run.state, new)
    if plan.blocked:
        reasons = "; ".join(f"{e.name}: {e.detail}" for e in plan.blocked)
        raise CommandRejected(f"cannot migrate to {new.key}: {reasons}")
    try:
        effective_plan(new, plan.overlay)
    except KeyError as exc:
        raise CommandRejected(f"cannot migrate: an added item refers to {exc}") from exc
    target_plan = effective_plan(new, plan.overlay)
    renames = {
        instance_id: target_plan.items[def_id].name
        for instance_id, def_id in plan.remap.items()
        if run.state.items[instance_id].name != target_plan.items[def_id].name
    }
    # Judged before the event, which gives the instances the new model's item ids.
    memory = [m for i in plan.remap for m in _memory_in(run.plan, target_plan, run.state.items[i], plan)]
    staying = [run.state.items[i] for i in plan.remap if run.state.items[i].state not in TERMINAL]
    # Armed timers, and those that wait for a start trigger (the new model may change or drop it).
    timers = [(i, run.plan.items[i.def_id]) for i in staying if i.kind == TIMER_EVENT]
    old_plan = run.plan
    run.emit(
        "migrate",
        {
            "definition": new.key,
            "from": run.state.definition_key,
            "version": cmd.version,
            "plan": plan.to_dict(),
            "remap": plan.remap,
            "rename": renames,
            "keep_overlay": plan.overlay,
        },
    )
    old_roles = run.plan.definition.roles
    run.base = new
    run.plan = plan_for(new, run.state)
    for payload in memory:
        run.emit("memory", payload)
    for instance, old_def in timers:
        _reschedule(run, instance, old_def, run.plan.items[instance.def_id], plan)
    _rename_roles(run, old_roles, new)
    for instance_id in plan.vanishing:
        instance = run.state.items[instance_id]
        if instance.state not in TERMINAL:
            run.end_children(instance)
            run.transition(instance, "remove")
    # Items new in the model appear in the stages that are running, as if those stages had just started (on hold
    # with a stage that is suspended).
    running = [
        i for i in run.state.items.values()
        if i.state in (ACTIVE, SUSPENDED) and not i.not_started and i.def_id in new.items
    ]
    # An item the plan maps keeps its instances where they are: one the new model moves to another stage (allowed
    # only once none is open) is not created again there, or work already done would be asked for once more.
    mapped = set(plan.remap.values())
    for stage in running:
        stage_def = run.plan.items[stage.def_id]
        existing = {i.def_id for i in run.state.child_items(stage.id)} | mapped
        for child in run.plan.children_of(stage_def.id):
            if child.id not in existing and not child.discretionary:
                run.create_instance(child, stage)
        _continue_cycles(run, stage, old_plan, plan.sources)
        run.dirty_stages[stage.id] = None
    # What waits is judged again by the new model's sentries, as the new model would judge it: a criterion already
    # satisfied fires now, an item that the new model lets start without one starts.
    for instance in staying:
        if instance.state in TERMINAL:
            continue
        parent = run.state.items.get(instance.parent) if instance.parent else None
        if instance.state == AVAILABLE and parent is not None and parent.state == ACTIVE:
            definition = run.plan.items[instance.def_id]
            if not definition.entry:
                run.queue.append(functools.partial(run.activate_if_available, instance))
            elif definition.id in run.plan.dependents:
                run.prefill_completed(instance)
        run.schedule_criteria(instance)


def _reschedule(run: Run, timer: ItemInstance, old: PlanItemDef, new: PlanItemDef, plan: MigrationPlan) -> None:
    """A timer that has not fired and whose expression or start trigger the new model changes falls due as the new
    model says, counted from when it began to count by the new model (see `_counted_from`); one that the new model
    leaves as it was keeps its due time. Every decision is an event (`timer_scheduled`, `timer_cancelled`, `memory`,
    or the timer's `terminate`), so that replay never judges it again."""
    if new.timer is None or old.timer is None:
        return
    same_trigger = _trigger_key(old.timer_start, plan) == _trigger_key(new.timer_start, None)
    if new.timer.source == old.timer.source and (same_trigger or timer.index > 1):
        return  # the next firing of a cycle counts from the firing before, whatever starts the first
    armed = run.state.timers.get(timer.id)
    base = _counted_from(run, timer, old, new, same_trigger, armed)
    if not isinstance(base, dt.datetime):
        # The new model's trigger has not happened (or the case cannot tell when it did): the timer waits for it.
        if armed is not None:
            run.emit("timer_cancelled", {"id": timer.id})
        start = f"{new.id}:{TIMER_START}"
        if base == _HEARD_ON_HOLD and any(c.id == start for c in new.entry):
            # It happened while the timer was on hold with its stage, which a live timer hears and counts from
            # the stage's resumption: so does this one, remembering it under its start criterion.
            run.emit("memory", {"id": timer.id, "criterion": start, "parts": [0]})
        return
    try:
        if timer.index == 1:
            due: dt.datetime | None = new.timer.first_due(base)
        else:  # the next firing of a cycle counts from the one before
            due = new.timer.next_due(base, timer.index - 1)
    except TimerError as exc:
        raise CommandRejected(f"cannot migrate: the timer of {new.name!r} cannot be scheduled: {exc}") from exc
    if due is None:  # the new model's timer would have fired its last time already
        run.transition(timer, "terminate", by="migration")
    elif armed is None or format_datetime(due) != armed:
        run.emit("timer_scheduled", {"id": timer.id, "due": format_datetime(due)})


_HEARD_ON_HOLD = "heard on hold"


def _trigger_key(part: OnPart | None, plan: MigrationPlan | None) -> tuple[str, str, str] | None:
    if part is None:
        return None
    return part_key(part, plan.sources, plan.files) if plan is not None else part_key(part)


def _counted_from(
    run: Run, timer: ItemInstance, old: PlanItemDef, new: PlanItemDef, same_trigger: bool, armed: str | None
) -> dt.datetime | str | None:
    """When the timer began to count under the new model, or None when it has yet to: its stage's start, which
    created it, for a timer without a start trigger; the moment its trigger happened for one with a trigger that
    the new model keeps (the due time less the old duration); for a trigger the new model changes, the completion
    (or occurrence) of the new trigger's item that the timer would have heard first (`_heard_first`). The next
    firing of a cycle counts from the firing before."""
    assert old.timer is not None
    if timer.index > 1 or (same_trigger and new.timer_start is not None):
        if armed is None:
            return None  # still waiting for the trigger the new model keeps
        if old.timer.duration is None:
            return parse_datetime(timer.created_at)
        return subtract_duration(parse_datetime(armed), old.timer.duration)
    if new.timer_start is None:
        return parse_datetime(timer.created_at)
    return _heard_first(run, new.timer_start, timer)


def _heard_first(run: Run, trigger: OnPart, timer: ItemInstance) -> dt.datetime | str | None:
    """The moment the timer would count from had it waited for ``trigger`` all along: the first completion
    (occurrence) of the trigger's item that it would have heard. One while it was on hold by a worker it would not
    hear; one while it was on hold with its stage it hears and counts from the stage's resumption
    (`_HEARD_ON_HOLD` while that has not come). One at the very moment the timer was created counts only when it
    came after it: the item was created after the timer, or lies inside the timer's stage (whose items complete
    after the stage has created its timers); otherwise it is the event that started the stage, which the timer
    never heard. None for any other event, whose moment the case does not keep, or for case data."""
    if trigger.kind != "planItem" or trigger.event not in ("complete", "occur"):
        return None
    created = parse_datetime(timer.created_at)
    completions = sorted(
        ((parse_datetime(i.ended_at), i)
         for i in run.state.instances_of(trigger.source)
         if i.state == COMPLETED and i.ended_at is not None),
        key=lambda completion: completion[0],  # instances do not compare: two may complete at one moment
    )
    for moment, source in completions:
        if moment < created or (moment == created and not _came_after(run, source, timer)):
            continue
        hold = next((h for h in timer.holds if _within(moment, h)), None)
        if hold is None:
            return moment
        if not hold[2]:
            continue  # on hold by a worker: deaf to it
        return parse_datetime(hold[1]) if hold[1] is not None else _HEARD_ON_HOLD
    return None


def _within(moment: dt.datetime, hold: list[Any]) -> bool:
    # Inclusive: an event at the very moment a hold began or ended (another command at the same time) is not trusted
    # to have come outside it.
    return parse_datetime(hold[0]) <= moment and (hold[1] is None or moment <= parse_datetime(hold[1]))


def _came_after(run: Run, source: ItemInstance, timer: ItemInstance) -> bool:
    """Whether ``source``, which ended at the moment ``timer`` was created, ended after it (see `_heard_first`)."""
    if _number(source.id) > _number(timer.id):
        return True
    parent = source.parent
    while parent is not None:
        if parent == timer.parent:
            return True
        parent = run.state.items[parent].parent
    return False


def _number(instance_id: str) -> int:
    digits = instance_id.lstrip("i")
    return int(digits) if digits.isdigit() else 0


def _continue_cycles(run: Run, stage: ItemInstance, old_plan: PlanIndex, sources: dict[str, str]) -> None:
    """A timer of ``stage`` that has fired its last time (a one-shot timer, a spent cycle), or whose next firing a
    migration ended (a model without it), goes on when the new model makes it a cycle with firings left: its next
    firing counts from the moment the last one fired, and the cycle ends after the new repeat count, counting the
    firings done. As for a timer that has not fired, only a timer whose expression the new model changes is judged
    again. One that a worker or an exit criterion ended, or its stage, stays ended."""
    reverse = {new_id: old_id for old_id, new_id in sources.items()}
    for definition in run.plan.children_of(stage.def_id):
        if definition.kind != TIMER_EVENT or definition.timer is None or definition.timer.kind != "cycle":
            continue
        old = old_plan.items.get(reverse.get(definition.id, ""))
        if old is None or old.timer is None or old.timer.source == definition.timer.source:
            continue
        instances = [i for i in run.state.child_items(stage.id) if i.def_id == definition.id]
        if not instances or any(i.open for i in instances):
            continue
        # The latest: a firing that a migration ended is not counted, and the one that takes its place has its index.
        last = instances[-1]
        if last.state != COMPLETED and last.ended_by == "migration":
            fired = [i for i in instances if i.state == COMPLETED]
            last = fired[-1] if fired else last
        if last.state != COMPLETED or last.ended_at is None:
            continue  # terminated: the timer was stopped, not spent
        try:
            due = definition.timer.next_due(parse_datetime(last.ended_at), last.index)
        except TimerError:
            due = None
        if due is None:
            continue
        following = run.create_instance(definition, stage, index=last.index + 1, evaluate_entry=False)
        run.emit("timer_scheduled", {"id": following.id, "due": format_datetime(due)})


def _rename_roles(run: Run, old_roles: Mapping[str, CaseRole], new: CaseDefinition) -> None:
    """Participants keep a model's case role by its name; a role the new model names otherwise (same id) is given
    to them under its new name, or planning what it authorizes would be refused to the people who hold it."""
    for role_id, role in old_roles.items():
        target = new.roles.get(role_id)
        if target is None or target.name == role.name:
            continue
        for user, roles in list(run.state.participants.items()):
            if role.name in roles:
                run.emit("remove_participant", {"user": user, "role": role.name})
                if target.name not in run.state.participants.get(user, []):
                    run.emit("add_participant", {"user": user, "role": target.name})


def _memory_in(
    old_plan: PlanIndex, new_plan: PlanIndex, instance: ItemInstance, plan: MigrationPlan
) -> list[dict[str, Any]]:
    """The memory events that say again, in the new plan's terms, which on-parts of the instance's sentries have
    fired (see `restated_memory`)."""
    if not instance.memory or instance.state in TERMINAL:
        return []
    old_def, new_def = old_plan.items.get(instance.def_id), new_plan.items.get(plan.sources.get(instance.def_id, ""))
    if old_def is None or new_def is None:
        return []
    changed = restated_memory(old_def, new_def, instance.memory, plan.sources, plan.files)
    return [{"id": instance.id, "criterion": criterion, "parts": parts} for criterion, parts in changed.items()]
