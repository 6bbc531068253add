"""The yearly assessment (宝鸡 arts. 22–24) for a year of hand-built work through the real flows
on a frozen clock: the figures per department equal the expected numbers, and the page, the
API and the .xlsx show the same ones."""
from __future__ import annotations

import io

import lxml.html
import openpyxl
import pytest

from app.catalog.grants import issue_grant
from app.catalog.services import update_entry
from tests import factories as f
from tests.flows.conftest import local

APPROVE = {"decision": "approve", "scope": "本部门出生登记业务", "valid_from": "2026-10-12", "valid_until": "2027-09-30"}


@pytest.fixture()
def year_of_work(cases, flow, entries, city, clock, profile):
    profile("baoji")  # 宝鸡 art. 29: a missed rectification suspends the department
    granted = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 10, 9, 10, 0))
    flow.do(city.police_approver, granted, "provider_review", APPROVE)                   # police, on time
    refused = flow.apply(city.health_applicant, entries.not_shared, requested_valid_from="2026-10-12")  # negotiation
    flow.do(city.health_applicant, refused, "negotiation", {"decision": "fail", "negotiation_note": "法律禁止"})
    flow.do(city.reviewer, refused, "office_arbitration", {"decision": "refuse", "reasons": "确无法律依据"})
    objection = cases.open(city.health_applicant, "data_objection", {
        "entry_id": entries.conditional.id, "items": ["公民身份号码"], "description": "校验位错误"})
    cases.do(city.police_approver, objection, "objection_verification",
             {"decision": "correct", "verification_note": "已修正"})
    issue_grant(entries.unconditional, city.health, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                valid_until=local(2027, 12, 31), authorised_by="provider")
    f.commit()
    cases.open(city.reviewer, "rectification", {"violation_category": "data_inaccurate", "description": "未更新",
                                                 "deadline": "2026-10-16", "rectified_department_id": city.health.id})
    clock.move_to(local(2026, 10, 17))  # 24:00 on the last day: suspended (宝鸡 art. 29)
    from app.engine import fire_due_timers
    fire_due_timers()
    draft = f.entry(city.police_approver, "GA-DRAFT", published=False)
    update_entry(city.police_approver, draft, {**f.entry_data("GA-DRAFT"), "summary": "补充说明"})
    f.commit()
    return granted, refused


def _by_department(response, city) -> dict:
    return {d["department_id"]: d for d in response.json["departments"]}


def test_the_years_figures_per_department(flow, city, year_of_work):
    response = flow.get(city.supervisor, "/api/sla/assessment", query_string={"year": 2026})
    assert response.status_code == 200, response.json
    rows = _by_department(response, city)
    police, health, office = rows[city.police.id], rows[city.health.id], rows[city.office.id]
    assert police["published_entries"] == 5 and police["entry_changes"] == 1
    assert (police["applications_received"], police["applications_refused"],
            police["applications_refused_with_reasons"]) == (2, 1, 1)
    assert (police["application_steps"], police["application_steps_on_time"]) == (1, 1)
    assert (police["objections_received"], police["objections_resolved"]) == (1, 1)
    assert (health["rectifications"], health["suspensions"], health["rectifications_missed"]) == (1, 1, 0)
    assert health["applications_received"] == 0  # it applied; the provider received them
    assert (office["application_steps"], office["application_steps_on_time"]) == (1, 1)  # the arbitration
    assert health["application_steps"] == 1  # its side of the negotiation
    assert response.json["total"]["applications_received"] == 2
    assert response.json["provisional_years"] == []
    empty = _by_department(flow.get(city.supervisor, "/api/sla/assessment", query_string={"year": 2025}), city)
    assert all(v == 0 for k, v in empty[city.police.id].items() if k not in ("department_id", "department",
                                                                             "on_time_rate"))
    assert flow.get(city.supervisor, "/api/sla/assessment", query_string={"year": 1999}).status_code == 422
    assert flow.get(city.health_approver, "/api/sla/assessment").status_code == 403


def test_the_page_and_the_xlsx_show_the_same_figures(flow, city, year_of_work, client):
    f.login(client, "dsj.supervisor")
    page = client.get("/sla/assessment", query_string={"year": 2026})
    assert page.status_code == 200
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    shown = [[cell.text_content().strip() for cell in tr.xpath("./th|./td")]
             for tr in doc.xpath('//table[@id="assessment"]/tbody/tr|//table[@id="assessment"]/tfoot/tr')]
    book = openpyxl.load_workbook(io.BytesIO(client.get("/sla/assessment.xlsx", query_string={"year": 2026}).data))
    sheet = list(book.active.values)
    assert book.active.title == "2026年度评估" and sheet[0][0] == "部门" and sheet[-1][0] == "合计"
    as_text = [[("—" if v in (None, "") else str(v)) for v in row] for row in sheet[1:]]
    as_text[-1][0] = shown[-1][0]  # 合计 (the page's label is translated)
    assert as_text == shown
    police = next(row for row in sheet if row[0] == city.police.name)
    assert police[5] == 2  # 收到共享申请
    assert 'data-print' in page.get_data(as_text=True) and "@media print" in client.get(
        "/static/css/app.css").get_data(as_text=True)
    bad = client.get("/sla/assessment", query_string={"year": "abc"})
    assert bad.status_code == 200 and "请输入整数" in bad.get_data(as_text=True)
    assert client.get("/sla/assessment.xlsx", query_string={"year": "abc"}).status_code == 400
