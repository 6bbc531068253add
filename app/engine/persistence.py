"""SpiffWorkflow (de)serialization without the spec.

The stored state holds tasks, data and subprocess state only; the spec and subprocess
specs are re-attached from the (cached) parsed definition version on load.

`dumps`/`loads` convert with the engine's own codec (app/engine/codec.py), which writes the
same bytes as SpiffWorkflow's converters at a fraction of the cost; `spiff_dumps`/`spiff_loads`
are SpiffWorkflow's converters themselves: the reference the codec is tested against, and the
fallback for whatever the codec does not cover (subprocesses, unknown state formats).
"""
from __future__ import annotations

import json
from copy import copy
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task

from app.engine import codec

STATE_FORMAT = "engine-1"


class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Like the default converter, minus `spec`/`subprocess_specs`."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_CONFIG = copy(SPIFF_CONFIG)
_CONFIG[BpmnWorkflow] = SpeclessWorkflowConverter
_REGISTRY = BpmnWorkflowSerializer.configure(_CONFIG)
_SERIALIZER = BpmnWorkflowSerializer(_REGISTRY)
_ENCODER = create_encoder(_REGISTRY)
_WORKFLOW_TYPENAME = _REGISTRY.typenames[BpmnWorkflow]
# The codec writes these names itself.
_COVERED = (codec.ENABLED and _WORKFLOW_TYPENAME == codec.WORKFLOW_TYPENAME
            and _REGISTRY.typenames[Task] == codec.TASK_TYPENAME)
# The encoder json.dumps(cls=_ENCODER, separators=(",", ":"), ensure_ascii=False) builds, once.
_encode = _ENCODER(separators=(",", ":"), ensure_ascii=False).encode
# What dumps appends to the converter's dict, encoded.
_TAIL = f',"format":{_encode(STATE_FORMAT)},"serializer_version":{_encode(_SERIALIZER.VERSION)}'


# ---- the reference: SpiffWorkflow's converters

def spiff_dumps(workflow: BpmnWorkflow) -> str:
    _REGISTRY._encoder_mode = True  # same fast path as BpmnWorkflowSerializer.serialize_json
    try:
        dct = _SERIALIZER.to_dict(workflow)
    finally:
        _REGISTRY._encoder_mode = False
    dct["format"] = STATE_FORMAT
    dct["serializer_version"] = _SERIALIZER.VERSION
    return json.dumps(dct, cls=_ENCODER, separators=(",", ":"), ensure_ascii=False)


def _spiff_from_dict(dct: dict, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    dct.pop("format", None)
    dct.pop("serializer_version", None)
    dct.pop("typename", None)
    converter = _REGISTRY.convert_from_dict[_WORKFLOW_TYPENAME]
    workflow = converter(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow


def spiff_loads(state: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    return _spiff_from_dict(json.loads(state), spec, subprocess_specs, script_engine)


# ---- the engine's codec, same bytes

def dumps(workflow: BpmnWorkflow) -> str:
    state = codec.workflow_json(workflow, _encode, _TAIL) if _COVERED else None
    return spiff_dumps(workflow) if state is None else state


def _identity(value):
    return value


def _restore(value):
    """The registry's restore, minus its walk over the (many) empty dicts and lists: it would
    return an equal new one, and each parsed value belongs to one place in the workflow."""
    if not value and type(value) in (dict, list):
        return value
    return _REGISTRY.restore(value)


def _restorer(state: str, dct: dict):
    """What loaded values need: nothing, when the only registry-typed dicts in the state are the
    workflow and its tasks (one "typename" each, and no \\u escape that could spell one),
    else the registry's restore. (A one-character search first: it is fast.)"""
    escapes = "\\" in state and "\\u" in state
    plain = not escapes and state.count('"typename"') == len(dct["tasks"]) + 1
    return _identity if plain else _restore


def loads(state: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    dct = json.loads(state)
    workflow = None
    if _COVERED and dct.get("format") == STATE_FORMAT and dct.get("serializer_version") == _SERIALIZER.VERSION:
        workflow = codec.workflow_from_dict(dct, spec, subprocess_specs, script_engine,
                                            _restorer(state, dct))
    if workflow is None:
        return _spiff_from_dict(dct, spec, subprocess_specs, script_engine)
    return workflow
