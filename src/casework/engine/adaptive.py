"""Adaptive commands: case workers change the plan of a running case. Each is validated like any other command and
recorded as an event whose type is the command's name, with actor, time and reason."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

from casework.engine import commands as c
from casework.engine.answers import ACCEPTED, DISMISSED, answer_key, answered
from casework.engine.core import case_plan_refused, check_json_data, check_roles, handles, plan_for, resolve
from casework.engine.errors import CommandRejected
from casework.engine.lifecycle import ACTIVE, AVAILABLE, OPEN, SUSPENDED, TERMINAL, table_for
from casework.engine.plan import nested_in, restated_memory
from casework.engine.runner import Run
from casework.engine.state import CaseState, ItemInstance, has_instance_id_form
from casework.expr import EvaluationError, Expression
from casework.model.definition import (
    CASE_PLAN,
    EVENT_LISTENER_KINDS,
    HUMAN_TASK,
    MILESTONE,
    STAGE,
    STAGE_KINDS,
    CaseDefinition,
    PlanItemDef,
)
from casework.model.timers import TimerError, check_time_part, due_from, format_datetime
from casework.model.validation import find_entry_cycle

ADD_EVENT = {HUMAN_TASK: "add_task", STAGE: "add_stage", MILESTONE: "add_milestone"}


def find_def(run: Run, ref: str, what: str, *, items_only: bool = False) -> PlanItemDef:
    """The plan item ``ref`` names: by its plan item id, the id of one of its instances, or its name (refused when
    several plan items have that name). With ``items_only``, refused when it is the case plan (`case_plan_refused`)."""
    found = _find_def(run, ref, what)
    if items_only and found.kind == CASE_PLAN:
        raise case_plan_refused(ref, what)
    return found


def _find_def(run: Run, ref: str, what: str) -> PlanItemDef:
    items = run.plan.items
    instance = run.state.items.get(ref)
    if instance is not None and ref not in items:
        ref = instance.def_id
    if ref in items and ref not in run.plan.removed:
        return items[ref]
    matches = [d for d in items.values() if d.name == ref and d.id not in run.plan.removed]
    if not matches:
        raise CommandRejected(f"{what}: no item {ref!r} in this case's plan")
    if len(matches) > 1:
        listed = ", ".join(f"{d.id} ({d.kind})" for d in matches)
        raise CommandRejected(f"{what}: {ref!r} names more than one item in the plan: {listed}; name one by its id")
    return matches[0]


def resolve_due(text: str, now: dt.datetime) -> str:
    try:
        if text.strip().startswith("P"):
            check_time_part(text)
        return format_datetime(due_from(text, now))
    except TimerError as exc:
        raise CommandRejected(f"due: {exc}") from exc


def _stage_accepts(run: Run, stage: PlanItemDef) -> ItemInstance | None:
    """The live instance of ``stage`` (None if not created yet); rejects a stage that has ended."""
    live = [i for i in run.state.live(stage.id) if i.state not in TERMINAL]
    if live:
        return live[0]
    if stage.kind == CASE_PLAN or run.state.ever_created(stage.id):
        raise CommandRejected(f"stage {stage.name!r} has ended")
    return None


def _candidates(names: tuple[str, ...], what: str, kind: str) -> list[str]:
    """The candidate groups or users of an added task: names without commas (the lists are stored joined by commas),
    in the order given, each once."""
    out = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if any("," in n for n in out):
        raise CommandRejected(f"a candidate {what} name cannot contain a comma")
    if out and kind != "humanTask":
        raise CommandRejected(f"only a humanTask has candidate {what}s, not a {kind}")
    return out


def _next_id(prefix: str, used: Iterable[str]) -> str:
    """``<prefix>N`` past every such id in ``used``. Not numbered by counting the overlay's entries: a migration
    drops those the new model has no room for while the dropped item's instances (and what waiting instances
    remember of a dropped criterion) stay in the case, and a model may name its own items so; a count would give a
    later addition an id still in use, and the two would share one definition."""
    pattern = re.compile(rf"^{prefix}(\d+)$")
    return f"{prefix}{max((int(m.group(1)) for u in used if (m := pattern.match(u))), default=0) + 1}"


def _enclosing(run: Run, def_id: str | None) -> list[str]:
    """The stages around plan item ``def_id``, innermost first (``def_id`` itself when it is given as a stage)."""
    out: list[str] = []
    while def_id is not None and def_id in run.plan.items:
        out.append(def_id)
        def_id = run.plan.items[def_id].parent
    return out


def _check_not_nested(run: Run, name: str, waiting: str | None, stages: list[str], after: list[PlanItemDef]) -> None:
    """Item ``name`` (plan item ``waiting``; None for one being added), inside ``stages``, cannot wait for a stage it
    is in, nor a stage for an item inside it: a stage completes only when its content is done or ends it, and its
    content exists only while it runs. Either would be accepted and then never hold: the item ends with its stage
    without having started, or waits for ever and holds it open; or the stage never starts while the rest of the case
    completes without it."""
    for a in after:
        if a.id in stages:
            raise CommandRejected(f"{name!r} is inside {a.name!r} and cannot wait for it: a stage completes only after "
                                  "what is inside it")
        if waiting is not None and waiting in _enclosing(run, a.parent):
            raise CommandRejected(f"{name!r} cannot wait for {a.name!r}, which is inside it: what is inside a stage "
                                  "exists only while the stage runs")


@handles(c.AddItem)
def _add_item(run: Run, cmd: c.AddItem) -> None:
    if cmd.kind not in ADD_EVENT:
        raise CommandRejected(f"cannot add a {cmd.kind!r}: add a humanTask, stage or milestone")
    name = cmd.name.strip()
    if not name:
        raise CommandRejected("an added item needs a name")
    if has_instance_id_form(name):
        # Commands take an item's id before its name: a task named "i5" could never be addressed by its name, and
        # "complete i5" would complete whatever item has that id.
        raise CommandRejected(f"{name!r} has the form of an item id (i1, i2, ...), which commands read as the id: "
                              "give the item another name")
    if cmd.unless_open:
        already = sorted(i.id for i in run.state.items.values()
                         if i.name == name and i.state not in TERMINAL and i.id != run.state.root)
        if already:
            raise CommandRejected(f"{name!r} is already in the case ({', '.join(already)}): not added again")
    stage = run.plan.definition.plan if cmd.stage is None else find_def(run, cmd.stage, "stage")
    if stage.kind not in STAGE_KINDS:
        raise CommandRejected(f"{stage.name!r} is a {stage.kind}, not a stage")
    stage_instance = _stage_accepts(run, stage)
    after_defs = [find_def(run, a, "after") for a in cmd.after]
    _check_not_nested(run, name, None, _enclosing(run, stage.id), after_defs)
    after = [a.id for a in after_defs]
    due = resolve_due(cmd.due, run.now) if cmd.due else None
    groups = _candidates(cmd.candidate_groups, "group", cmd.kind)
    users = _candidates(cmd.candidate_users, "user", cmd.kind)
    spec: dict[str, Any] = {
        # `_next_id("adhoc", (*run.plan.items, *run.state.created_by_def))`, from highest numbers kept up to date
        # (that scan cost each added item the size of the case).
        "id": f"adhoc{max(run.plan.highest_added, run.state.highest_added) + 1}",
        "name": name,
        "kind": cmd.kind,
        "parent": stage.id,
        "after": after,
        "manual": cmd.manual,
        "required": cmd.required,
        "repeat": cmd.repeat,
        "auto_complete": cmd.auto_complete,
        "assignee": (cmd.assignee.strip() or None) if cmd.assignee is not None else None,
        "due": due,
        "description": cmd.description,
    }
    # Only when given: the events of earlier versions stay byte-identical.
    if groups:
        spec["candidate_groups"] = groups
    if users:
        spec["candidate_users"] = users
    run.emit(ADD_EVENT[cmd.kind], {"item": spec["id"], "name": name, "overlay": {"op": "add_item", "def": spec}})
    run.plan = plan_for(run.base, run.state)
    if stage_instance is not None and stage_instance.state in (ACTIVE, SUSPENDED) and not stage_instance.not_started:
        # In a suspended stage it is created on hold, and starts by the usual rules when the stage resumes; a stage
        # that has not started creates it with its other children when it starts.
        run.create_instance(run.plan.items[spec["id"]], stage_instance)


@handles(c.AddDependency)
def _add_dependency(run: Run, cmd: c.AddDependency) -> None:
    target = find_def(run, cmd.item, "add_dependency", items_only=True)
    if target.kind in EVENT_LISTENER_KINDS:
        # A listener occurs when its event happens (a user, a timer), whatever its entry criteria say: a dependency
        # would be accepted and never hold it back.
        raise CommandRejected(f"{target.name!r} is an event listener: it occurs when its event happens and cannot wait")
    instances = run.state.instances_of(target.id)
    started = [i for i in instances if not i.not_started or i.started_at is not None]
    if started and target.repetition is None:
        raise CommandRejected(f"{target.name!r} has already started ({started[0].state}); it cannot wait any more")
    # A repeating item's instances under way are past their sentries: the dependency holds its next instances.
    after = [find_def(run, a, "after") for a in cmd.after]
    if not after:
        raise CommandRejected("add_dependency needs at least one item to wait for")
    for a in after:
        if a.id == target.id:
            raise CommandRejected(f"{target.name!r} cannot wait for itself")
    _check_not_nested(run, target.name, target.id, _enclosing(run, target.parent), after)
    cycle = find_entry_cycle(run.plan.items, {target.id: frozenset(a.id for a in after)})
    if cycle:
        names = " -> ".join(run.plan.items[i].name for i in cycle)
        raise CommandRejected(f"this dependency would make a cycle: {names}")
    criterion = _next_id("dep", (
        *(op["criterion"] for op in run.state.overlay if op.get("op") == "add_dependency"),
        *(c.id for item in run.plan.items.values() for c in (*item.entry, *item.exit)),
        *(name for instance in run.state.items.values() for name in instance.memory),
    ))
    op = {"op": "add_dependency", "item": target.id, "after": [a.id for a in after], "criterion": criterion}
    run.emit("add_dependency", {"item": target.id, "after": op["after"], "overlay": op})
    run.plan = plan_for(run.base, run.state)
    for instance in run.state.live(target.id):
        run.prefill_completed(instance)


@handles(c.SkipItem)
def _skip(run: Run, cmd: c.SkipItem) -> None:
    item = resolve(run, cmd.item, sorted(OPEN), "skip", items_only=True)
    if "skip" not in table_for(item.kind).get(item.state, {}):
        hint = ""
        if item.state == SUSPENDED:
            hint = "; resume its stage first" if item.held_by_parent else "; resume it first"
        raise CommandRejected(f"cannot skip {item.name!r}: a {item.kind} cannot be skipped while {item.state}{hint}")
    run.emit("skip", {"item": item.id, "name": item.name, "from": item.state})
    if item.kind in STAGE_KINDS:
        run.end_children(item)
    run.transition(item, "skip")


@handles(c.RemoveItem)
def _remove(run: Run, cmd: c.RemoveItem) -> None:
    definition = find_def(run, cmd.item, "remove", items_only=True)
    instances = run.state.instances_of(definition.id)
    started = [i for i in instances if not i.not_started and i.state not in TERMINAL]
    if started:
        raise CommandRejected(f"{definition.name!r} has started ({started[0].state}); use terminate or skip instead")
    open_ones = [i for i in instances if i.not_started]
    if instances and not open_ones:
        raise CommandRejected(f"{definition.name!r} has already ended")
    # Items made to wait for it at run time would wait for ever: the removal releases them (as a migration does when
    # the item leaves the plan). Refusing instead would leave the worker no way to take the item out (a dependency
    # cannot be taken back) but `skip`, which records work that was not done as completed.
    old_plan = run.plan
    leaving = nested_in(old_plan.items, definition.id)  # a removed stage's items can no longer happen either
    dependents = [
        d
        for d in old_plan.items.values()
        if d.id in old_plan.dependents
        and d.id not in leaving | old_plan.removed
        and _waits_for(d, leaving)
    ]
    op: dict[str, Any] = {"op": "remove", "item": definition.id}
    payload: dict[str, Any] = {"item": definition.id, "name": definition.name, "overlay": op}
    if dependents:  # only then: the events of earlier versions stay byte-identical
        op["release"] = True
        payload["released"] = [{"item": d.id, "name": d.name} for d in dependents]
    run.emit("remove", payload)
    run.plan = plan_for(run.base, run.state)
    for instance in open_ones:
        run.end_children(instance)
        run.transition(instance, "remove")
    for dependent in dependents:
        _release(run, dependent, run.plan.items[dependent.id])
    if definition.parent is not None:
        # Its stage may have waited only for it to be planned (`Run.open_for_planning`), and can complete now.
        for stage in run.state.live(definition.parent):
            run.dirty_stages[stage.id] = None


def _waits_for(definition: PlanItemDef, sources: set[str]) -> bool:
    return any(p.added and p.source in sources for c in definition.entry for p in c.sentry.on_parts)


def _release(run: Run, before: PlanItemDef, after: PlanItemDef) -> None:
    """The open instances of ``after`` no longer wait for what a dependency released: what they remember is restated
    for its criteria as they are now, and they are judged again (one left waiting for nothing starts)."""
    for instance in run.state.live(after.id):
        for criterion, parts in restated_memory(before, after, instance.memory, {}).items():
            run.emit("memory", {"id": instance.id, "criterion": criterion, "parts": parts})
        if instance.state == AVAILABLE and not after.entry:
            run.queue.append(functools.partial(run.activate_if_available, instance))
        run.schedule_criteria(instance)


@handles(c.Reassign)
def _reassign(run: Run, cmd: c.Reassign) -> None:
    item = resolve(run, cmd.item, sorted(OPEN), "reassign", items_only=True)
    # Read as AddParticipant reads a user: " bob " kept as given would own a task that bob's inbox never lists.
    to = cmd.to.strip() if cmd.to is not None else None
    if to is not None and not to:
        raise CommandRejected("reassign needs a user (or none to unassign)")
    if item.owner == to:
        raise CommandRejected(f"{item.name!r} is already assigned to {to}" if to else f"{item.name!r} has no owner")
    run.emit("reassign", {"item": item.id, "name": item.name, "from": item.owner, "to": to})


def _role_name(run: Run, role: str) -> str:
    """A case role given by name or id is kept under its name; a role the model does not know, as given."""
    model_role = run.plan.definition.role_by_name_or_id(role)
    return model_role.name if model_role is not None else role


@handles(c.AddParticipant)
def _add_participant(run: Run, cmd: c.AddParticipant) -> None:
    user, role = cmd.user.strip(), cmd.role.strip()
    if not user or not role:
        raise CommandRejected("a participant needs a user and a role")
    role_name = _role_name(run, role)
    if role_name in run.state.participants.get(user, []):
        raise CommandRejected(f"{user} already takes part as {role_name}")
    run.emit("add_participant", {"user": user, "role": role_name})


@handles(c.RemoveParticipant)
def _remove_participant(run: Run, cmd: c.RemoveParticipant) -> None:
    # The same reading of user and role as AddParticipant, so that what added someone also removes them.
    user = cmd.user.strip()
    if not user:
        raise CommandRejected("name the participant to remove")
    roles = run.state.participants.get(user)
    if not roles:
        raise CommandRejected(f"{user} does not take part in this case")
    role: str | None = None
    if cmd.role is not None:
        given = cmd.role.strip()
        if not given:
            raise CommandRejected("name the role to remove, or none to remove every role")
        role = _role_name(run, given)
        if role not in roles:
            if given not in roles:
                raise CommandRejected(f"{user} does not take part as {role}")
            role = given  # kept as given before a migration brought a model role by that name or id
    run.emit("remove_participant", {"user": user, "role": role})


@handles(c.SetDue)
def _set_due(run: Run, cmd: c.SetDue) -> None:
    due = resolve_due(cmd.due, run.now)
    if cmd.item is None:
        run.emit("set_due", {"item": None, "due": due})
        return
    item = resolve(run, cmd.item, sorted(OPEN), "set_due", items_only=True)
    run.emit("set_due", {"item": item.id, "name": item.name, "due": due})


def _table_stage(run: Run, definition: PlanItemDef) -> PlanItemDef | None:
    for stage in run.plan.items.values():
        if stage.kind in STAGE_KINDS and definition.id in stage.planning_table:
            return stage
    return None


def _table_tasks(items: Mapping[str, PlanItemDef], item_id: str) -> list[str]:
    """The human tasks whose own planning table lists ``item_id`` (none for an item of a stage's table)."""
    return [t.id for t in items.values() if t.kind == HUMAN_TASK and item_id in t.planning_table]


def _task_active_in(state: CaseState, tasks: list[str], stage: ItemInstance) -> bool:
    return any(i.state == ACTIVE and i.parent == stage.id for t in tasks for i in state.live(t))


def _applicable(run: Run, definition: PlanItemDef) -> bool:
    return all(run.condition(rule, None, f"applicabilityRule of {definition.id}") for rule in definition.applicability)


@handles(c.PlanItem)
def _plan(run: Run, cmd: c.PlanItem) -> None:
    definition = find_def(run, cmd.item, "plan")
    stage = _table_stage(run, definition) if definition.discretionary else None
    if stage is None:
        raise CommandRejected(f"{definition.name!r} is not a discretionary item of a planning table")
    live = [i for i in run.state.live(stage.id) if i.state == ACTIVE]
    if not live:
        raise CommandRejected(f"{definition.name!r} can be planned only while {stage.name!r} is active")
    tasks = _table_tasks(run.plan.items, definition.id)
    if tasks:
        live = [i for i in live if _task_active_in(run.state, tasks, i)]
        if not live:
            names = " or ".join(repr(run.plan.items[t].name) for t in tasks)
            raise CommandRejected(f"{definition.name!r} can be planned only while {names} is active")
    if not _applicable(run, definition):
        raise CommandRejected(f"{definition.name!r} is not applicable now (its applicability rule is false)")
    check_roles(run, definition, "plan")
    run.emit("plan", {"item": definition.id, "name": definition.name, "stage": live[0].id})
    run.create_instance(definition, live[0])


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@handles(c.AttachDocument)
def _attach_document(run: Run, cmd: c.AttachDocument) -> None:
    name = cmd.name.strip()
    if not name:
        raise CommandRejected("a document needs a name")
    if not _SHA256.match(cmd.sha256):
        raise CommandRejected("a document's sha256 must be 64 lowercase hex digits")
    if cmd.size < 0 or cmd.previous_version < 0:
        raise CommandRejected("a document's size and previous version cannot be negative")
    if not cmd.document_id or not cmd.media_type:
        raise CommandRejected("a document needs its id and media type")
    # Versions are counted per name in the case, so that replaying the log gives every document its version back.
    version = max(run.state.documents.get(name, 0), cmd.previous_version) + 1
    run.emit("document_attached", {"id": cmd.document_id, "name": name, "version": version, "sha256": cmd.sha256,
                                   "size": cmd.size, "media_type": cmd.media_type})


@handles(c.RecordFeedback)
def _feedback(run: Run, cmd: c.RecordFeedback) -> None:
    # A next-best action names its activity; a flag may suggest no action at all (an SLA breach, an unusual path)
    # and is named by its id. Either way the person's decision about it must be recordable.
    if not isinstance(cmd.suggestion, dict) or not (cmd.suggestion.get("activity") or cmd.suggestion.get("id")):
        raise CommandRejected("feedback needs the suggestion it is about (with its activity, or a flag's id)")
    # Bounded well below case data: a suggestion names an activity and says why, and each decision keeps it whole.
    check_json_data("suggestion", cmd.suggestion, c.MAX_SUGGESTION, "")
    # Checked against the case as it is when the command runs, so of two people answering at once one is refused
    # (the other's command is retried on the case as the first left it).
    refusal = answered(run.state, cmd.suggestion)
    if refusal is not None:
        raise CommandRejected(refusal)
    kind = ACCEPTED if cmd.accepted else DISMISSED
    run.emit(kind, {"suggestion": cmd.suggestion, "model_version": cmd.model_version,
                    "answers": list(answer_key(run.state, cmd.suggestion))})


def plannable(definition: CaseDefinition, state: CaseState) -> list[str]:
    """Names of the discretionary items that could be planned now (roles are checked when planning)."""
    plan = plan_for(definition, state)
    names: list[str] = []
    for stage in plan.items.values():
        if stage.kind not in STAGE_KINDS or not stage.planning_table:
            continue
        running = [i for i in state.live(stage.id) if i.state == ACTIVE]
        if not running:
            continue
        for item_id in stage.planning_table:
            if item_id in plan.removed:
                continue  # taken out of the plan by a worker: `plan` no longer finds it
            item = plan.items[item_id]
            tasks = _table_tasks(plan.items, item_id)
            if tasks and not any(_task_active_in(state, tasks, s) for s in running):
                continue
            if all(_quiet_condition(state, rule) for rule in item.applicability):
                names.append(item.name)
    return names


def _quiet_condition(state: CaseState, expr: Expression) -> bool:
    try:
        return expr.evaluate_bool(state.variables)
    except EvaluationError:
        return False
