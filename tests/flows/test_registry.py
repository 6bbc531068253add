"""One flow, one module: every BPMN file has its module in the registry, and every form and
verb the diagram names is that module's own (or one every flow shares)."""
from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest

from app.flows import registry
from app.flows.base import COMMON_FORMS

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
SHARED_VERBS = {"record_outcome", "notify"}


def _named(path: Path) -> tuple[str, set[str], set[str]]:
    """The process id of a BPMN file, the forms its user tasks name and the verbs its service tasks call."""
    root = ElementTree.parse(path).getroot()
    process = root.find("bpmn:process", NS)
    forms = {p.get("value") for p in root.iterfind(".//spiffworkflow:property", NS) if p.get("name") == "form"}
    verbs = {op.get("id") for op in root.iterfind(".//spiffworkflow:serviceTaskOperator", NS)}
    return process.get("id"), forms, verbs


@pytest.mark.parametrize("path", sorted(BPMN.glob("*.bpmn")), ids=lambda p: p.stem)
def test_each_bpmn_file_has_its_flow_module(path):
    process_id, forms, verbs = _named(path)
    assert process_id == path.stem
    flow = registry.flow(process_id)
    assert forms and forms <= set(flow.forms)
    assert verbs <= set(flow.verbs) | SHARED_VERBS
    # nothing in the module that its diagram does not use (a leftover would be dead code)
    assert set(flow.forms) - set(COMMON_FORMS) <= forms
    assert set(flow.verbs) <= verbs


def test_the_registry_lists_exactly_the_bpmn_files():
    assert set(registry.FLOWS) == {p.stem for p in BPMN.glob("*.bpmn")}


def test_form_and_verb_names_are_unique_across_flows():
    """The engine's registries are global: two flows may share a name only for the same thing."""
    for attr in ("forms", "verbs"):
        seen: dict[str, object] = {}
        for flow in registry.FLOWS.values():
            for name, thing in getattr(flow, attr).items():
                assert seen.setdefault(name, thing) is thing, (attr, name)
