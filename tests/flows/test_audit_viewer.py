"""The audit log viewer (issue 15, 宝鸡 art. 21): the office's supervisors search it, check its
chain and export it; a department's usage log holds only the entries about its own data; every
reading is itself recorded; everyone else is refused."""
from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.extensions import db
from tests import factories as f
from tests.flows.conftest import local

PERIOD = {"from": "2026-09-01", "to": "2026-10-31"}
# the entries fixture runs before the clock is frozen: its entries are created today
WHOLE = {"from": "2026-09-01", "to": "2026-12-31"}
APPROVE = {"decision": "approve", "scope": "本部门出生登记业务", "valid_from": "2026-10-12", "valid_until": "2027-09-30"}


@pytest.fixture()
def shared(flow, entries, city, clock):
    """Health applies for police data and is granted it; health also publishes data of its own."""
    key = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    clock.move_to(local(2026, 10, 9, 10, 0))
    flow.do(city.police_approver, key, "provider_review", APPROVE)
    own = f.entry(city.health_approver, "WJW-OWN", share_type="unconditional")
    return key, own


def _actions(rows) -> set[str]:
    return {r["action"] for r in rows}


def test_supervisors_search_by_person_category_object_and_period(flow, shared, city):
    key, _own = shared
    everything = flow.get(city.supervisor, "/api/audit/entries", query_string={**PERIOD, "page_size": 100})
    assert everything.status_code == 200, everything.json
    assert {"application.submitted", "grant.issued", "engine.task_completed"} <= _actions(everything.json)
    by_person = flow.get(city.supervisor, "/api/audit/entries", query_string={**PERIOD, "actor": "gaj.approver",
                                                                               "page_size": 100}).json
    assert by_person and {r["actor_name"] for r in by_person} == {"gaj.approver"}
    grants = flow.get(city.supervisor, "/api/audit/entries", query_string={**PERIOD, "category": "grant"}).json
    assert _actions(grants) == {"grant.issued"}
    case_id = next(r["object_id"] for r in everything.json if r["action"] == "application.submitted")
    about_case = flow.get(city.supervisor, "/api/audit/entries", query_string={
        **PERIOD, "object_type": "workflow_case", "object_id": case_id, "page_size": 100}).json
    assert "application.submitted" in _actions(about_case)
    assert {(r["object_type"], r["object_id"]) for r in about_case} == {("workflow_case", case_id)}
    by_department = flow.get(city.supervisor, "/api/audit/entries", query_string={
        **PERIOD, "department": city.police.id, "page_size": 100}).json
    assert by_department and {r["department_id"] for r in by_department} == {city.police.id}
    august = flow.get(city.supervisor, "/api/audit/entries", query_string={"from": "2026-08-01", "to": "2026-08-31"})
    assert august.json == []


def test_reading_the_log_is_itself_recorded(flow, shared, city):
    flow.get(city.supervisor, "/api/audit/entries", query_string={**PERIOD, "actor": "gaj.approver"})
    flow.get(city.supervisor, "/api/audit/verify")
    rows = db.session.scalars(select(AuditEntry).where(AuditEntry.action.startswith("audit."))
                              .order_by(AuditEntry.id)).all()
    assert [(r.action, r.actor_name) for r in rows] == [("audit.read", "dsj.supervisor"),
                                                          ("audit.verified", "dsj.supervisor")]
    assert rows[0].after == {"actor": "gaj.approver", "from": "2026-09-01", "to": "2026-10-31", "page": 1}


def test_the_chain_check_from_the_api_and_the_page_finds_tampering(flow, shared, city, client):
    intact = flow.get(city.supervisor, "/api/audit/verify").json
    assert intact["intact"] is True and intact["checked"] > 5 and intact["problems"] == []
    victim = db.session.scalar(select(AuditEntry.id).where(AuditEntry.action == "grant.issued"))
    db.session.execute(text("UPDATE audit_entry SET actor_name = 'someone' WHERE id = :id"), {"id": victim})
    f.commit()
    broken = flow.get(city.supervisor, "/api/audit/verify").json
    assert broken["intact"] is False and [p["entry_id"] for p in broken["problems"]] == [victim]
    f.login(client, "dsj.supervisor")
    page = client.get("/audit/", query_string=PERIOD)
    assert page.status_code == 200 and 'id="audit-entries"' in page.get_data(as_text=True)
    checked = f.post_form(client, "/audit/verify", {}, follow_redirects=True)
    assert "审计日志校验失败：1 处问题" in f.page_text(checked) and f"记录 #{victim}" in f.page_text(checked)


def test_a_departments_usage_log_holds_only_its_own_data(flow, shared, city, entries):
    key, own = shared
    police = flow.get(city.supervisor, "/api/audit/usage", query_string={
        **WHOLE, "department": city.police.id, "page_size": 100})
    assert police.status_code == 200, police.json
    objects = {(r["object_type"], r["object_id"]) for r in police.json}
    assert ("catalog_entry", str(entries.conditional.id)) in objects
    assert ("catalog_entry", str(own.id)) not in objects  # health's own data is not police's log
    assert {"application.submitted", "grant.issued", "engine.task_completed"} <= _actions(police.json)
    assert {r["object_type"] for r in police.json} <= {"catalog_entry", "grant", "workflow_case",
                                                       "process_instance", "human_task"}
    health = flow.get(city.supervisor, "/api/audit/usage", query_string={
        **WHOLE, "department": city.health.id, "page_size": 100}).json
    health_objects = {(r["object_type"], r["object_id"]) for r in health}
    assert ("catalog_entry", str(own.id)) in health_objects  # it provides this
    assert "grant.issued" in _actions(health)  # it holds this grant
    # police's other entries, never applied for by health, are not in health's log
    assert ("catalog_entry", str(entries.unconditional.id)) not in health_objects
    # the department itself may fetch its own, not another's
    assert flow.get(city.police_approver, "/api/audit/usage", query_string={"department": city.police.id}).status_code == 200
    assert flow.get(city.police_approver, "/api/audit/usage", query_string={"department": city.health.id}).status_code == 403
    assert flow.get(city.health_applicant, "/api/audit/usage", query_string={"department": city.health.id}).status_code == 403
    assert flow.get(city.supervisor, "/api/audit/usage", query_string={"department": 999999}).status_code == 404


def test_the_page_exports_what_it_found_and_a_usage_log(flow, shared, city, client):
    import csv

    f.login(client, "dsj.supervisor")
    exported = client.get("/audit/entries.csv", query_string={**PERIOD, "category": "grant"})
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][:5] == ["编号", "时间", "操作人", "操作人所在部门", "操作"] and [r[4] for r in table[1:]] == ["grant.issued"]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/audit/usage.xlsx", query_string={
        **PERIOD, "department": city.police.id}).data))
    assert book.active.title == "使用日志"
    actions = {row[4] for row in list(book.active.values)[1:]}
    assert {"grant.issued", "application.submitted"} <= actions and not any(a.startswith("auth.") for a in actions)
    recorded = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action.startswith("audit."))
                                  .order_by(AuditEntry.id)).all()
    assert recorded == ["audit.exported", "audit.usage_exported"]


def test_only_supervisors_read_the_log_and_bad_searches_are_field_errors(flow, city, client):
    for user in (city.reviewer, city.admin, city.police_approver):
        assert flow.get(user, "/api/audit/entries").status_code == 403
        assert flow.get(user, "/api/audit/verify").status_code == 403
    for bad in ({"from": "x"}, {"department": "abc"}, {"category": "nope"}, {"actor": "a" * 65},
                {"from": "2026-10-02", "to": "2026-10-01"}):
        refused = flow.get(city.supervisor, "/api/audit/entries", query_string=bad)
        assert refused.status_code == 422, (bad, refused.json)
    assert flow.get(city.supervisor, "/api/audit/usage").status_code == 422  # whose data?
    f.login(client, "dsj.reviewer")
    assert client.get("/audit/").status_code == 403
    assert "审计日志" not in f.page_text(client.get("/"))
    f.sign_out(client)
    f.login(client, "dsj.supervisor")
    assert "审计日志" in f.page_text(client.get("/"))
    page = client.get("/audit/", query_string={"from": "2026-10-02", "to": "2026-10-01", "category": "nope"})
    assert page.status_code == 200
    assert "截止日期不能早于起始日期" in page.get_data(as_text=True) or "没有这类操作" in page.get_data(as_text=True)
    assert client.get("/audit/entries.csv", query_string={"from": "x"}).status_code == 400
    assert client.get("/audit/usage.csv").status_code == 400
    assert client.get("/audit/entries.pdf").status_code == 404
