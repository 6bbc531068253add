"""The revision that gave concepts one name (migrations/versions/f1a2b3c4d5e6: one `decision`
field, a case's applicant): an instance that started, and took a step, on a diagram that read
the old names finishes after the upgrade on its own — now rewritten — version, and its timeline reads."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import select

from app.engine import deploy, registry
from app.engine.definitions import verify_stored
from app.engine.models import EventType, ProcessInstance, TaskEvent
from app.extensions import db
from app.flows.models import Application
from tests.factories import commit
from tests.flows.conftest import BPMN_FILE

MIGRATION = Path(__file__).resolve().parents[2] / "migrations/versions/f1a2b3c4d5e6_one_name_per_concept.py"
_spec = importlib.util.spec_from_file_location("one_name_per_concept", MIGRATION)
revision = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(revision)

# What bpmn/conditional_share.bpmn read before the revision.
OLD_CONDITIONS = {new: old for old, new in revision.CONDITIONS.items()
                  if old.split(" ")[0] in ("formal_review_result", "amend_action", "negotiation_outcome")}


def _old_xml(marker: str) -> bytes:
    xml = BPMN_FILE.read_text(encoding="utf-8")
    for new, old in OLD_CONDITIONS.items():
        xml = xml.replace(f">{new}</bpmn:conditionExpression>", f">{old}</bpmn:conditionExpression>")
    return xml.replace("</bpmn:definitions>", f"{marker}</bpmn:definitions>").encode("utf-8")


def _upgrade() -> None:
    conn = db.session.connection()
    revision.rename_definitions(conn)
    revision.rename_data(conn)
    commit()
    db.session.expire_all()


@pytest.mark.parametrize("marker", ["<!-- before one decision field -->", ""], ids=["rewritten", "identical"])
def test_an_instance_started_on_the_old_names_finishes_after_the_upgrade(flow, city, entries, clock,
                                                                         monkeypatch, marker):
    old = deploy(_old_xml(marker))
    # the form as it was: its choice under its own name
    # the form as it was: its choice under its own name
    monkeypatch.setitem(registry.FORMS, "formal_review_form", lambda data: {
        "formal_review_result": data["formal_review_result"], "return_reasons": data.get("return_reasons")})
    key = flow.apply(city.health_applicant, entries.conditional)
    instance_id = db.session.scalar(select(Application.instance_id).where(Application.business_key == key))
    assert db.session.get(ProcessInstance, instance_id).definition_id == old.id
    flow.do(city.reviewer, key, "formal_review", {"formal_review_result": "return", "return_reasons": "缺申请依据"})
    monkeypatch.undo()

    _upgrade()

    instance = db.session.get(ProcessInstance, instance_id)
    expected = hashlib.sha256(BPMN_FILE.read_text(encoding="utf-8").replace(
        "</bpmn:definitions>", f"{marker}</bpmn:definitions>").encode("utf-8")).hexdigest()
    assert instance.definition.content_hash == expected
    assert (instance.definition_id == old.id) == bool(marker)  # identical to the file: handed over to it
    assert all(problem is None for _row, problem in verify_stored())
    assert '"formal_review_result"' not in instance.state
    completed = db.session.scalars(select(TaskEvent).where(
        TaskEvent.instance_id == instance_id, TaskEvent.event_type == EventType.COMPLETED)).all()
    assert [e.data.get("decision") for e in completed] == ["return"]

    # the rewritten gateways read what today's forms record
    flow.do(city.health_applicant, key, "amend_application", {"decision": "resubmit", "amendment_note": "已补充依据"})
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    flow.do(city.police_approver, key, "provider_review",
            {"decision": "approve", "scope": "出生登记核验", "valid_from": "2026-10-01", "valid_until": "2027-03-31"})
    assert flow.detail(key)["application"]["status"] == "granted"


def test_old_values_take_their_imperative_form_and_the_new_name_is_kept():
    assert revision.renamed({"negotiation_outcome": "agreed", "x": 1}) == {"decision": "agree", "x": 1}
    assert revision.renamed({"verification_result": "confirmed"}) == {"decision": "confirm"}
    assert revision.renamed({"decision": "refuse", "formal_review_result": "accept"}) == {"decision": "refuse"}
    assert revision.renamed({"decision": "approve"}) is None
    assert revision.renamed({"requester_user_id": 3, "flow": "revocation"}) == {"applicant_user_id": 3,
                                                                              "flow": "revocation"}
    state = {"data": {}, "tasks": {"t": {"data": {"amend_action": "resubmit"},
                                         "delta": {"updates": {"idle_action": "keep"}, "deletions": ["verification"]}}}}
    assert revision._renamed_state(state)
    assert state["tasks"]["t"] == {"data": {"decision": "resubmit"},
                                   "delta": {"updates": {"decision": "keep"}, "deletions": ["decision"]}}
