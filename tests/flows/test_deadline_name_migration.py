"""The revision that named deadlines after their steps (migrations/versions/c3e5f7a9b1d2): an
application running on a stored version that still asks for `deadline('provider_reply')` gets
its provider-review deadline after the upgrade, and its stored legal deadlines keep being
recomputed under the new name."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import select

from app.engine import deploy
from app.engine.definitions import verify_stored
from app.engine.models import HumanTask, ProcessInstance
from app.extensions import db
from app.flows.models import Application
from app.legaltime.models import LegalDeadline
from app.legaltime.tracking import record_deadline
from app.policy.profiles import UnknownDeadline
from app.sla import deadlines as sla_deadlines
from tests.factories import commit
from tests.flows.conftest import BPMN_FILE, local

MIGRATION = Path(__file__).resolve().parents[2] / "migrations/versions/c3e5f7a9b1d2_deadlines_named_after_their_steps.py"
_spec = importlib.util.spec_from_file_location("deadlines_named_after_their_steps", MIGRATION)
revision = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(revision)


def _old_xml() -> bytes:
    xml = BPMN_FILE.read_text(encoding="utf-8")
    for new, old in revision.calls({v: k for k, v in revision.FORMER_DEADLINE_NAMES.items()}).items():
        xml = xml.replace(new, old)
    assert "deadline('provider_reply')" in xml
    return xml.replace("</bpmn:definitions>", "<!-- before deadlines took their steps' names -->"
                       "</bpmn:definitions>").encode("utf-8")


def _returned_application(flow, city, entries, monkeypatch) -> str:
    """An application on the old version, returned for amendment (no provider deadline yet).
    The version was deployed before deploys checked deadline names."""
    for fn in (sla_deadlines.deadline, sla_deadlines.reminder):
        monkeypatch.setattr(fn, "check_arguments", lambda name: None)
    old = deploy(_old_xml())
    monkeypatch.undo()
    key = flow.apply(city.health_applicant, entries.conditional)
    instance_id = db.session.scalar(select(Application.instance_id).where(Application.business_key == key))
    assert db.session.get(ProcessInstance, instance_id).definition_id == old.id
    flow.do(city.reviewer, key, "formal_review", {"decision": "return", "return_reasons": "缺申请依据"})
    flow.do(city.health_applicant, key, "amend_application", {"decision": "resubmit", "amendment_note": "已补充"})
    return key


def test_an_old_version_asking_for_a_former_name_fails_without_the_upgrade(flow, city, entries, clock, monkeypatch):
    key = _returned_application(flow, city, entries, monkeypatch)
    task_id = flow.task(key, "formal_review")["id"]
    try:
        response = flow.complete(city.reviewer, task_id, {"decision": "accept"})
    except UnknownDeadline:
        return
    assert response.status_code >= 400 and "provider_review" not in flow.open_tasks(key)


def test_after_the_upgrade_the_old_version_finds_its_deadline(flow, city, entries, clock, monkeypatch):
    key = _returned_application(flow, city, entries, monkeypatch)
    record_deadline("task", 42, local(2026, 9, 30, 10, 0), 10, "workday", policy_key="provider_reply")
    commit()
    revision.rename(db.session.connection())
    commit()
    db.session.expire_all()
    assert all(problem is None for _row, problem in verify_stored())
    assert db.session.scalar(select(LegalDeadline.policy_key).where(LegalDeadline.owner_id == "42")) == "provider_review"

    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    task = db.session.get(HumanTask, flow.task(key, "provider_review")["id"])
    assert task.due_at is not None and task.reminder_at is not None



def test_deploy_refuses_a_deadline_the_jurisdiction_lacks(flow):
    from app.engine import DeployError

    xml = BPMN_FILE.read_text(encoding="utf-8").replace("deadline('provider_review')", "deadline('no_such_deadline')")
    try:
        deploy(xml.encode("utf-8"))
    except DeployError as exc:
        assert "no_such_deadline" in str(exc) and "provider_review" in str(exc)
        assert exc.element_id
    else:
        raise AssertionError("deployed a diagram asking for an unknown deadline")
