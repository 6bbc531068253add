"""Catalogue review (目录审核, 南通 arts. 10, 11; 宝鸡 art. 10; 乌海 art. 7; SPEC §4.5) through
the HTTP API, on a frozen clock (Wednesday 2026-09-30 10:00). A law changed on 30 September:
the catalogue is updated within 15 working days, i.e. by 27 October (after National Day).
"""
from __future__ import annotations

from datetime import datetime, timezone

from app.catalog.models import CatalogEntry
from app.engine import fire_due_timers
from app.extensions import db
from tests import factories as f
from tests.flows.conftest import local, titles


def utc(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def state(entry_id: int) -> CatalogEntry:
    db.session.expire_all()
    return db.session.get(CatalogEntry, entry_id)


def test_new_entry_is_returned_with_reasons_revised_and_published(cases, city, clock):
    draft = f.entry(city.police_approver, "GA-NEW", published=False)
    key = cases.open(city.police_approver, "catalogue_review", {"entry_id": draft.id, "change_note": "新增"})
    assert key.startswith("ML-2026-")
    assert state(draft.id).publish_state == "under_review"
    review = cases.task(key, "review_entry")
    assert (review["candidate_department_id"], review["candidate_role"]) == (city.office.id, "office_reviewer")
    no_reasons = cases.complete(city.reviewer, review["id"], {"decision": "return"})
    assert no_reasons.status_code == 422 and "return_reasons" in no_reasons.json["errors"]["json"]
    cases.do(city.reviewer, key, "review_entry",
             {"decision": "return", "return_reasons": "信息项数据类型不准确"})
    assert state(draft.id).publish_state == "draft"  # editable again
    assert "目录审核：退回修改" in titles(cases.notifications(city.police_approver))
    edited = cases.client.patch(f"/api/catalog/entries/{draft.id}", json={"summary": "已修正"},
                                headers=cases.headers(city.police_approver))
    assert edited.status_code == 200, edited.json
    revise = cases.task(key, "revise_entry")["id"]
    assert cases.complete(city.police_approver, revise, {"decision": "resubmit"}).status_code == 422
    cases.do(city.police_approver, key, "revise_entry", {"decision": "resubmit", "change_note": "已修正数据类型"})
    assert state(draft.id).publish_state == "under_review"
    cases.do(city.reviewer, key, "review_entry", {"decision": "approve"})
    entry = state(draft.id)
    assert entry.publish_state == "published" and entry.published_at is not None and entry.summary == "已修正"
    case = cases.case(key, city.police_approver)
    assert (case["status"], case["outcome"]) == ("closed", "published")


def test_change_to_a_published_entry_is_reviewed_then_applied(cases, city, clock):
    entry = f.entry(city.police_approver, "GA-PUB")
    no_change = cases.start(city.police_approver, "catalogue_review", {"entry_id": entry.id})
    assert no_change.json["errors"]["json"]["changes"] == ["变更已发布的条目，请填写变更内容"]
    invalid = cases.start(city.police_approver, "catalogue_review",
                          {"entry_id": entry.id, "changes": {"share_type": "not_shared"}})
    assert "legal_basis" in invalid.json["errors"]["json"]["changes"]
    key = cases.open(city.police_approver, "catalogue_review",
                     {"entry_id": entry.id, "changes": {"summary": "新增户籍地址字段说明"}})
    assert state(entry.id).publish_state == "published"  # stays published while the change is reviewed
    assert state(entry.id).summary == ""
    cases.do(city.reviewer, key, "review_entry", {"decision": "approve"})
    assert state(entry.id).summary == "新增户籍地址字段说明"


def test_provider_may_withdraw_after_a_return(cases, city, clock):
    draft = f.entry(city.police_approver, "GA-WD", published=False)
    key = cases.open(city.police_approver, "catalogue_review", {"entry_id": draft.id})
    cases.do(city.reviewer, key, "review_entry", {"decision": "return", "return_reasons": "重复编目"})
    cases.do(city.police_approver, key, "revise_entry", {"decision": "withdraw", "change_note": "与 GA-001 重复"})
    case = cases.case(key)
    assert (case["status"], case["outcome"]) == ("closed", "cancelled")
    assert state(draft.id).publish_state == "draft"


def test_law_change_starts_a_fifteen_working_day_update_with_reminder_and_escalation(cases, city, clock):
    entry = f.entry(city.police_approver, "GA-LAW")
    key = cases.open(city.police_approver, "catalogue_review",
                     {"review_kind": "mandate_change", "law_or_mandate": "《户口登记条例》修订",
                      "changed_on": "2026-09-30"})
    update = cases.task(key, "catalogue_update")
    assert update["candidate_department_id"] == city.police.id
    assert update["due_at"] == utc(local(2026, 10, 28))  # end of 27 October
    assert cases.case(key)["due_at"] == utc(local(2026, 10, 28))
    clock.move_to(datetime.fromisoformat(update["reminder_at"]))
    assert fire_due_timers() == 1
    assert "催办：更新目录" in titles(cases.notifications(city.police_approver))
    clock.move_to(local(2026, 10, 28))
    assert fire_due_timers() == 1
    assert set(cases.open_tasks(key)) == {"catalogue_update", "supervise_overdue"}
    other = f.entry(city.health_approver, "WJ-1")
    foreign = cases.complete(city.police_approver, cases.task(key, "catalogue_update")["id"],
                             {"entry_id": other.id, "change_note": "更新"})
    assert foreign.status_code == 422 and foreign.json["errors"]["json"]["entry_id"] == ["只能送审本部门的目录条目"]
    cases.do(city.police_approver, key, "catalogue_update",
             {"entry_id": entry.id, "changes": {"legal_basis": "《户口登记条例》（2026年修订）"},
              "change_note": "更新依据"})
    cases.do(city.reviewer, key, "review_entry", {"decision": "approve"})
    assert state(entry.id).legal_basis == "《户口登记条例》（2026年修订）"
    assert cases.case(key)["outcome"] == "published"


def test_start_form_validation_and_roles(cases, city, clock):
    draft = f.entry(city.police_approver, "GA-V", published=False)
    assert cases.start(city.police_applicant, "catalogue_review", {"entry_id": draft.id}).status_code == 403
    foreign = cases.start(city.health_approver, "catalogue_review", {"entry_id": draft.id})
    assert foreign.json["errors"]["json"]["entry_id"] == ["只能送审本部门的目录条目"]
    law = cases.start(city.police_approver, "catalogue_review", {"review_kind": "mandate_change"})
    assert set(law.json["errors"]["json"]) == {"law_or_mandate", "changed_on"}
    future = cases.start(city.police_approver, "catalogue_review",
                         {"review_kind": "mandate_change", "law_or_mandate": "x", "changed_on": "2026-10-09"})
    assert future.json["errors"]["json"]["changed_on"] == ["公布之日不能晚于今天"]
    first = cases.open(city.police_approver, "catalogue_review", {"entry_id": draft.id})
    again = cases.start(city.police_approver, "catalogue_review", {"entry_id": draft.id})
    assert again.status_code == 422 and "正在审核中" in again.json["errors"]["json"]["entry_id"][0]
    assert first
