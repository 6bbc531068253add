"""The engine's own conversion between a top-level BpmnWorkflow and its spec-less JSON state.

It writes and reads exactly what SpiffWorkflow 3.2's converters do (default/workflow.py:
TaskConverter, WorkflowConverter, BpmnWorkflowConverter minus the spec; DefaultRegistry in
encoder mode; DeepMerge for task-data deltas) — the same bytes, the same restored workflow —
without the registry's per-object dispatch, which dominated load and save time.
`app.engine.persistence` parses the JSON, supplies the registry's encoder and restore, and
falls back to SpiffWorkflow's converters whenever these functions answer None (not covered).

Saving writes the fixed skeleton of the state (key names and order, separators) directly and
hands every value to the registry's JSON encoder, which is what SpiffWorkflow's encoder mode
does too: the values are left raw in its dict and encoded by that same encoder. Empty
containers, ids, numbers and booleans are written by hand exactly as the C encoder writes them.
"""
from __future__ import annotations

from collections.abc import Callable
from copy import copy
from datetime import date, datetime, time, timedelta
from importlib.metadata import version
from json.encoder import encode_basestring
from math import isfinite
from types import ModuleType
from typing import Any
from uuid import UUID, SafeUUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

# The converters replicated here are SpiffWorkflow 3.2.0's; any other version uses its own.
REPLICATED_SPIFF_VERSION = "3.2.0"
ENABLED = version("SpiffWorkflow") == REPLICATED_SPIFF_VERSION

TASK_TYPENAME = "Task"
WORKFLOW_TYPENAME = "BpmnWorkflow"
_WAITING = TaskState.WAITING

Encode = Callable[[Any], str]
Restore = Callable[[Any], Any]


# ---- save

_TASK_JSON = ('{"id":%s,"parent":%s,"children":[%s],"last_state_change":%s,"state":%s,"task_spec":%s,'
              '"triggered":%s,"internal_data":%s,"data":%s,"delta":%s,"typename":"' + TASK_TYPENAME + '"}')
_WORKFLOW_JSON = ('{"data":%s,"correlations":%s,"last_task":%s,"success":%s,"completed":%s,"tasks":{%s},'
                  '"root":%s,"subprocesses":{},"bpmn_events":%s,"typename":"' + WORKFLOW_TYPENAME + '"%s}')
_DELTA_JSON = '{"updates":%s,"deletions":%s}'
_NO_DELTA_JSON = _DELTA_JSON % ("{}", "[]")

# Types whose `x != y` is `not (x == y)`; with no NaN among them (not equal to itself, while
# `dict ==` takes identical values as equal), "no key changed" is one C-level `==` instead of
# DeepMerge's key-by-key `!=`.
_CONSISTENT_EQUALITY = frozenset({str, int, float, bool, type(None), list, dict, tuple, datetime, date,
                                  time, timedelta, UUID})
_STR = frozenset({str})


def _clean(dct: dict) -> dict:
    """DefaultRegistry.clean: the converters drop callables and modules from a data dict."""
    return {k: v for k, v in dct.items() if not callable(v) and not isinstance(v, ModuleType)}


def _quote(value) -> str:
    """The JSON of str(value), as the converters write ids. For a UUID, its canonical text
    (what UUID.__str__ returns; needs no escaping) formatted in place: this runs for every task."""
    if type(value) is not UUID:
        return encode_basestring(str(value))
    x = f"{value.int:032x}"
    return f'"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"'


def _encoded(value, encode: Encode) -> str:
    """A stored value; empty dict and list (most stored values) and booleans without the
    encoder, written as it writes them."""
    kind = type(value)
    if kind is dict and not value:
        return "{}"
    if kind is list and not value:
        return "[]"
    if kind is bool:
        return "true" if value else "false"
    return encode(value)


def _comparable(data: dict) -> bool:
    values = data.values()
    types = set(map(type, values))
    return types <= _CONSISTENT_EQUALITY and (float not in types or all(v == v for v in values if type(v) is float))


class _Writer:
    """One save: the JSON of each task, given the workflow's tasks and the value encoder."""

    __slots__ = ("tasks", "encode", "ids", "dropped")

    def __init__(self, tasks: dict, encode: Encode):
        self.tasks, self.encode = tasks, encode
        # id(UUID) → JSON of each task id: an id is written up to three times (key or id,
        # parent, child) and str(UUID) is slow. Keyed by id(): the tasks hold every key object
        # alive for the whole save, so no other object can take its id() meanwhile.
        self.ids = {id(task.id): _quote(task.id) for task in tasks.values()}
        self.dropped: dict[tuple, str] = {}  # str keys → JSON of the delta deleting them all

    def delta(self, before: dict, after: dict) -> str:
        """DeepMerge.get_updated_keys / get_deleted_keys: same comparisons, same key order."""
        if not after:
            return self.all_deleted(before)
        if after == before and _comparable(after):
            return _NO_DELTA_JSON  # most tasks pass their parent's data on unchanged
        updates = {k: v for k, v in after.items() if k not in before or v != before[k]}
        deletions = [k for k in before if k not in after]
        return _DELTA_JSON % (_encoded(updates, self.encode), _encoded(deletions, self.encode))

    def all_deleted(self, before: dict) -> str:
        """A predicted task has no data yet: every key of its parent's data is deleted. Many such
        tasks have the same keys, so each list is encoded once (for str keys: other keys may be
        equal yet written differently, e.g. 1 and True)."""
        if not before:
            return _NO_DELTA_JSON
        keys = tuple(before)
        text = self.dropped.get(keys)
        if text is None:
            text = _DELTA_JSON % ("{}", self.encode(list(keys)))
            if _STR.issuperset(map(type, keys)):
                self.dropped[keys] = text
        return text

    def task(self, task: Task) -> str | None:
        """TaskConverter.to_dict, encoded; None if not covered. Numbers and booleans written as
        the C encoder writes them (int and finite float: their type's repr)."""
        internal, name, ids, encode = task.internal_data, task.task_spec.name, self.ids, self.encode
        if type(task) is not Task or type(internal) is not dict:
            return None  # the registry would dispatch these differently
        parent = self.tasks.get(task._parent)  # Task.parent, minus the property call
        if parent is None:
            parent_id, data, delta = "null", _encoded(task.data, encode), "{}"
        else:
            parent_id = ids.get(id(task._parent)) or _quote(task._parent)
            data, delta = "{}", self.delta(parent.data, task.data)
        changed, state, triggered = task.last_state_change, task._state, task.triggered
        return _TASK_JSON % (
            ids.get(id(task.id)) or _quote(task.id), parent_id,
            ",".join([ids.get(id(c)) or _quote(c) for c in task._children]),
            float.__repr__(changed) if type(changed) is float and isfinite(changed) else encode(changed),
            int.__repr__(state) if type(state) is int else encode(state),
            encode_basestring(name) if type(name) is str else encode(name),
            "true" if triggered is True else "false" if triggered is False else encode(triggered),
            _encoded(_clean(internal), encode) if internal else "{}",
            data, delta)

    def all_tasks(self) -> str | None:
        """The mapping_to_dict of the tasks, encoded."""
        parts, ids = [], self.ids
        for key, task in self.tasks.items():
            text = self.task(task)
            if text is None or type(key) is not UUID:
                return None
            parts.append((ids.get(id(key)) or _quote(key)) + ":" + text)
        return ",".join(parts)


def workflow_json(workflow: BpmnWorkflow, encode: Encode, tail: str) -> str | None:
    """The JSON SpiffWorkflow's spec-less BpmnWorkflowConverter + `encode` write, `tail` (more
    encoded top-level items) appended; None when not covered."""
    if not ENABLED or type(workflow) is not BpmnWorkflow or workflow.subprocesses:
        return None
    writer = _Writer(workflow.tasks, encode)
    tasks = writer.all_tasks()
    if tasks is None:
        return None
    last, root, ids = workflow.last_task, workflow.task_tree.id, writer.ids
    return _WORKFLOW_JSON % (
        _encoded(_clean(workflow.data), encode), _encoded(workflow.correlations, encode),
        "null" if last is None else ids.get(id(last.id)) or _quote(last.id),
        _encoded(workflow.success, encode), _encoded(workflow.completed, encode),
        tasks, ids.get(id(root)) or _quote(root), _encoded(workflow.bpmn_events, encode), tail)


# ---- load

_CONTAINERS = (dict, list, set)
_PLAIN_CONTAINERS = frozenset(_CONTAINERS)


def _mutable_keys(data: dict) -> tuple:
    """The keys whose values DeepMerge.merge copies (it passes the others on as they are)."""
    return tuple(k for k, v in data.items() if isinstance(v, _CONTAINERS))


def _inherit(parent: dict, mutable: tuple) -> dict:
    """DeepMerge.merge({}, parent), as TaskConverter.from_dict and Task._inherit_data do: a
    shallow copy of each dict/list/set value, the same objects for the rest. (One level only,
    as in SpiffWorkflow: deeper values stay shared with the parent, in memory and once loaded;
    copying deeper would change what later in-place merges, e.g. at joins, write.)"""
    data = parent.copy()
    for key in mutable:
        value = data[key]
        data[key] = value.copy() if type(value) in _PLAIN_CONTAINERS else copy(value)
    return data


# UUID(text) validates several spellings; the stored ids are canonical, and building the UUID
# from the parsed int is twice as fast. Only where UUID's layout is the one known here.
_UUID_SLOTS_KNOWN = UUID.__slots__ == ("int", "is_safe", "__weakref__")
_new, _set, _UNKNOWN = object.__new__, object.__setattr__, SafeUUID.unknown


def _uuid(text: str) -> UUID:
    """UUID(text). Whenever the shortcut parses, UUID() would parse the same int (it strips
    only 'urn:', 'uuid:', braces and hyphens, and int() rejects the first three)."""
    digits = text.replace("-", "")
    if _UUID_SLOTS_KNOWN and len(digits) == 32:
        try:
            value = int(digits, 16)
        except ValueError:
            return UUID(text)
        uid = _new(UUID)
        _set(uid, "int", value)
        _set(uid, "is_safe", _UNKNOWN)
        return uid
    return UUID(text)


class _Ids(dict):
    """str → UUID for one load: an id appears as key, id, parent and child; parse it once."""

    def __missing__(self, text: str) -> UUID:
        uid = self[text] = _uuid(text)
        return uid


def _new_task(workflow: BpmnWorkflow, dct: dict, ids: _Ids, restore: Restore) -> Task:
    """TaskConverter.from_dict, all but the data. Task() registers the task in workflow.tasks,
    which the parent lookups of later tasks rely on, as in the converter."""
    spec = workflow.spec.task_specs.get(dct["task_spec"])
    task = Task(workflow, spec, state=dct["state"], id=ids[dct["id"]])
    parent_id = dct["parent"]
    task._parent = ids[parent_id] if parent_id is not None else None
    task._children = [ids[c] for c in dct["children"]]
    task.last_state_change = dct["last_state_change"]
    task.triggered = dct["triggered"]
    task.internal_data = restore(dct["internal_data"])
    if task._state & _WAITING and isinstance(spec, CatchingEvent):
        workflow.event_manager.add_task(task)
    return task


def _task_data(dct: dict, parent: Task | None, parent_mutable: tuple | None,
               restore: Restore) -> tuple[dict, tuple]:
    """TaskConverter.from_dict's data — the parent's plus this task's delta, or the stored data
    (the root, or a parent not restored first) — and its _mutable_keys."""
    delta = dct.get("delta")
    if not delta or parent is None:
        data = restore(dct["data"])
        return data, _mutable_keys(data)
    if parent_mutable is None:
        parent_mutable = _mutable_keys(parent.data)
    data = _inherit(parent.data, parent_mutable)
    updates, deletions = restore(delta.get("updates", {})), delta.get("deletions", {})
    if not updates and not deletions:
        return data, parent_mutable  # most tasks: the parent's data, unchanged
    data.update(updates)
    for key in deletions:
        if key in data:
            del data[key]
    return data, _mutable_keys(data)


def _restore_tasks(workflow: BpmnWorkflow, stored: dict, ids: _Ids, restore: Restore) -> bool:
    """All tasks, in stored order: parents were created, so stored, before their children."""
    tasks = workflow.tasks
    mutable: dict[Task, tuple] = {}  # task → _mutable_keys of its data
    for key, dct in stored.items():
        if dct.get("typename") != TASK_TYPENAME or dct["id"] != key:
            return False
        task = _new_task(workflow, dct, ids, restore)
        parent = tasks.get(task._parent)
        task.data, mutable[task] = _task_data(dct, parent, mutable.get(parent), restore)
    return True


def workflow_from_dict(dct: dict, spec, subprocess_specs: dict, script_engine,
                       restore: Restore) -> BpmnWorkflow | None:
    """The workflow SpiffWorkflow's converter restores from `dct` (parsed state, not modified),
    or None when not covered. `restore`: the registry's, or the identity when the state holds
    no registry-typed values."""
    if not ENABLED or dct.get("typename") != WORKFLOW_TYPENAME or dct.get("subprocesses") != {}:
        return None
    # Given the engine, the constructor does not build a default one for us to replace.
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine, deserializing=True)
    ids = _Ids()
    if not _restore_tasks(workflow, dct["tasks"], ids, restore):
        return None
    workflow.task_tree = workflow.tasks.get(ids[dct["root"]])
    # WorkflowConverter.set_default_attributes
    workflow.success = dct["success"]
    workflow.completed = dct.get("completed", False)
    workflow.correlations = dct.get("correlations", {})
    if isinstance(dct["last_task"], str):
        workflow.last_task = workflow.tasks.get(ids[dct["last_task"]])
    workflow.data = restore(dct.get("data", {}))
    workflow.bpmn_events = restore(dct.get("bpmn_events", []))
    workflow.script_engine = script_engine  # None stays None, as in the reference loader
    return workflow
