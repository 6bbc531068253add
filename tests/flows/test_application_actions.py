"""The applicant's own actions on an application in progress (issue 14): withdrawing it while
no decision has been made, and urging the holders of its open steps once a day — through the
API, on a frozen clock, audited."""
from __future__ import annotations

import io

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.engine.models import HumanTask, ProcessInstance
from app.extensions import db
from app.flows.models import Application
from tests.flows.conftest import PDF, local


def _application(key) -> Application:
    db.session.expire_all()
    return db.session.scalar(select(Application).where(Application.business_key == key))


def _audited(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_applicant_withdraws_before_any_decision_and_the_flow_ends(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    url = f"/api/applications/{key}/withdraw"
    assert flow.post(city.police_approver, url, json={"reasons": "不需要了"}).status_code == 403
    assert flow.post(city.health_applicant, url, json={"reasons": " "}).status_code == 422
    assert flow.post(city.health_applicant, url, json={}).status_code == 422
    response = flow.post(city.health_applicant, url, json={"reasons": "业务调整，不再需要"})
    assert response.status_code == 200, response.json
    assert response.json["application"]["status"] == "withdrawn" and response.json["open_tasks"] == []
    application = _application(key)
    assert (application.outcome, application.reasons) == ("withdrawn", "业务调整，不再需要")
    assert db.session.get(ProcessInstance, application.instance_id).status == "cancelled"
    assert not db.session.scalars(select(HumanTask).where(
        HumanTask.instance_id == application.instance_id, HumanTask.state == "ready")).all()
    assert [e.after["reasons"] for e in _audited("application.withdrawn")] == ["业务调整，不再需要"]
    assert "申请已撤回" in [n["title"] for n in flow.notifications(city.reviewer)]       # held formal review
    assert "申请已撤回" in [n["title"] for n in flow.notifications(city.police_approver)]  # the provider
    assert flow.post(city.health_applicant, url, json={"reasons": "再次"}).status_code == 409


def test_no_withdrawal_after_a_decision(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    flow.do(city.police_approver, key, "provider_review", {"decision": "refuse", "reasons": "涉及个人隐私"})
    refused = flow.post(city.health_applicant, f"/api/applications/{key}/withdraw", json={"reasons": "算了"})
    assert refused.status_code == 409 and "放弃" in refused.json["message"]
    assert _application(key).status == "in_progress" and not _audited("application.withdrawn")


def test_the_applicant_urges_the_holders_once_a_working_day(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    url = f"/api/applications/{key}/urge"
    assert flow.post(city.reviewer, url).status_code == 403
    urged = flow.post(city.health_applicant, url)
    assert urged.status_code == 200 and urged.json == {"urged": 1}
    assert [n["kind"] for n in flow.notifications(city.reviewer) if n["title"].startswith("申请方催办")] == ["reminder"]
    again = flow.post(city.health_applicant, url)
    assert again.status_code == 409 and "每个工作日最多催办一次" in again.json["message"]
    clock.move_to(local(2026, 10, 3, 9, 0))  # National Day: still the same working day's urge
    assert flow.post(city.health_applicant, url).status_code == 409
    clock.move_to(local(2026, 10, 8, 9, 0))  # the next working day
    assert flow.post(city.health_applicant, url).status_code == 200
    assert len(_audited("application.urged")) == 2


def test_a_returned_application_gets_a_new_letter_then_is_accepted(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    url = f"/api/applications/{key}/letter"
    new_letter = {"letter": (io.BytesIO(PDF + b"% new"), "新申请函.pdf")}
    early = flow.post(city.health_applicant, url, data=dict(new_letter), content_type="multipart/form-data")
    assert early.status_code == 409  # not returned for amendment
    flow.do(city.reviewer, key, "formal_review", {"decision": "return", "return_reasons": "申请函未盖章"})
    old = _application(key).letter_attachment_id
    assert flow.post(city.health_applicant, url, data={}, content_type="multipart/form-data").status_code == 422
    new_letter = {"letter": (io.BytesIO(PDF + b"% new"), "新申请函.pdf")}
    replaced = flow.post(city.health_applicant, url, data=new_letter, content_type="multipart/form-data")
    assert replaced.status_code == 200, replaced.json
    application = _application(key)
    assert application.letter_attachment_id != old and application.letter.filename == "新申请函.pdf"
    assert [(e.before, e.after["letter_attachment_id"]) for e in _audited("application.letter_replaced")] == [
        ({"letter_attachment_id": old}, application.letter_attachment_id)]
    flow.do(city.health_applicant, key, "amend_application", {"decision": "resubmit", "amendment_note": "已换盖章申请函"})
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    assert set(flow.open_tasks(key)) == {"provider_review"}


def test_a_decision_made_while_the_page_was_open_stops_the_withdrawal(flow, entries, city, clock):
    from sqlalchemy import update

    from app.errors import Conflict
    from app.flows.application_actions import withdraw_application
    from app.flows.models import Case

    key = flow.apply(city.health_applicant, entries.conditional)
    stale = _application(key)  # what the applicant's request read
    db.session.execute(update(Case).where(Case.business_key == key).values(outcome="approved"))
    db.session.commit()  # the provider's decision committed meanwhile
    try:
        withdraw_application(city.health_applicant, stale, "不再需要")
    except Conflict:
        pass
    else:
        raise AssertionError("withdrew an application decided meanwhile")
    db.session.rollback()
    assert _application(key).status == "in_progress"
    assert db.session.get(ProcessInstance, _application(key).instance_id).status == "running"


def test_the_history_shows_what_each_amendment_changed(flow, entries, city, clock):
    key = flow.apply(city.health_applicant, entries.conditional)
    assert flow.detail(key)["amendments"] == []
    flow.do(city.reviewer, key, "formal_review", {"decision": "return", "return_reasons": "用途不具体，申请函未盖章"})
    old_letter = _application(key).letter_attachment_id
    replaced = flow.post(city.health_applicant, f"/api/applications/{key}/letter",
                         data={"letter": (io.BytesIO(PDF + b"% sealed"), "盖章申请函.pdf")},
                         content_type="multipart/form-data")
    assert replaced.status_code == 200, replaced.json
    # the answer already shows the replacement it made
    assert [c["field"] for a in replaced.json["amendments"] for c in a["changes"]] == ["letter_attachment_id"]
    clock.move_to(local(2026, 10, 9, 10, 0))
    flow.do(city.health_applicant, key, "amend_application", {
        "decision": "resubmit", "amendment_note": "细化用途，补充信息项",
        "purpose": "出生医学证明签发前核验父母身份", "items": ["公民身份号码", "姓名"],
        "requested_scope": "本部门出生登记业务"})  # unchanged: not listed
    letter, fields = flow.detail(key, city.health_applicant)["amendments"]
    assert [c["field"] for c in letter["changes"]] == ["letter_attachment_id"]
    assert letter["changes"][0]["before"] == old_letter and letter["actor_name"]
    assert {c["field"]: (c["label"], c["before"], c["after"]) for c in fields["changes"]} == {
        "purpose": ("用途（履职事项）", "出生医学证明核验", "出生医学证明签发前核验父母身份"),
        "items": ("信息项", ["公民身份号码"], ["公民身份号码", "姓名"]),
    }
    assert fields["at"] == "2026-10-09T02:00:00+00:00"
    # the provider and the office read the same history
    assert len(flow.detail(key, city.reviewer)["amendments"]) == 2
