"""SpiffWorkflow (de)serialization without the spec.

The stored state holds tasks, data and subprocess state only; the spec and subprocess
specs are re-attached from the (cached) parsed definition version on load.
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


def dumps(workflow: BpmnWorkflow) -> str:
    _REGISTRY._encoder_mode = True  # same fast path as BpmnWorkflowSerializer.serialize_json
    try:
        dct = _SERIALIZER.to_dict(workflow)
    finally:
        _REGISTRY._encoder_mode = False
    dct["format"] = STATE_FORMAT
    dct["serializer_version"] = _SERIALIZER.VERSION
    return json.dumps(dct, cls=_ENCODER, separators=(",", ":"), ensure_ascii=False)


def loads(state: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    dct = json.loads(state)
    dct.pop("format", None)
    dct.pop("serializer_version", None)
    dct.pop("typename", None)
    converter = _REGISTRY.convert_from_dict[_WORKFLOW_TYPENAME]
    workflow = converter(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow
