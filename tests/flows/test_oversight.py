"""The supervisor's oversight (issue 15): every record of every flow, filtered and sorted; the
open steps behind each department's open-work figures; and the supervisor changes nothing."""
from __future__ import annotations

import csv
import io

import lxml.html
import openpyxl
import pytest

from app.engine import fire_due_timers
from tests import factories as f
from tests.flows.conftest import local

PERIOD = {"from": "2026-09-01", "to": "2026-10-31"}


@pytest.fixture()
def records(cases, flow, entries, city, clock):
    """Two applications (one overdue at its formal review) and a data objection."""
    share = flow.apply(city.health_applicant, entries.conditional)
    waiting = flow.apply(city.health_applicant, entries.conditional)
    flow.do(city.reviewer, share, "formal_review", {"decision": "accept"})
    from app.catalog.grants import issue_grant
    issue_grant(entries.unconditional, city.health, purpose="履职", scope="全部", valid_from=local(2026, 1, 1),
                valid_until=local(2027, 12, 31), authorised_by="provider")
    f.commit()
    objection = cases.open(city.health_applicant, "data_objection", {
        "entry_id": entries.unconditional.id, "items": ["公民身份号码"], "description": "校验位错误"})
    clock.move_to(local(2026, 10, 9, 9, 0))  # the second review (1 wd) is overdue since 24:00 on 8 Oct
    fire_due_timers()
    return share, waiting, objection


def _keys(client, **query) -> list[str]:
    page = client.get("/sla/records", query_string={**PERIOD, **query})
    assert page.status_code == 200
    return [a.text_content() for a in lxml.html.fromstring(page.get_data(as_text=True)).xpath(
        '//table[@id="records"]//td[1]/a')]


def test_every_record_filtered_by_flow_status_department_overdue_key_and_text(records, city, client):
    share, waiting, objection = records
    f.login(client, "dsj.supervisor")
    assert set(_keys(client)) == {share, waiting, objection}
    assert set(_keys(client, flow="conditional_share")) == {share, waiting}
    assert _keys(client, flow="data_objection") == [objection]
    assert _keys(client, overdue="true") == [waiting]
    assert _keys(client, key=objection[:3]) == [objection]
    assert _keys(client, key=share) == [share]
    assert set(_keys(client, department=city.police.id)) == {share, waiting, objection}
    assert _keys(client, department=city.office.id) == []
    assert set(_keys(client, q="测试资源GA-COND")) == {share, waiting}
    assert _keys(client, status="closed") == []
    oldest, newest = _keys(client, sort="oldest"), _keys(client, sort="newest")
    assert oldest == list(reversed(newest))
    assert _keys(client, **{"from": "2026-11-01", "to": "2026-11-30"}) == []
    bad = client.get("/sla/records", query_string={"flow": "nope", "sort": "x", "department": "abc"})
    assert bad.status_code == 200 and "没有这种业务类型" in bad.get_data(as_text=True)
    exported = client.get("/sla/records.csv", query_string={**PERIOD, "flow": "conditional_share"})
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["业务编号", "业务类型", "事项"] and {r[0] for r in rows[1:]} == {share, waiting}
    book = openpyxl.load_workbook(io.BytesIO(client.get("/sla/records.xlsx", query_string=PERIOD).data))
    assert {row[0] for row in list(book.active.values)[1:]} == {share, waiting, objection}
    assert client.get("/sla/records.csv", query_string={"flow": "nope"}).status_code == 400


def test_each_open_work_figure_lists_the_steps_behind_it(records, flow, city, client):
    share, waiting, objection = records
    office = {d["department_id"]: d for d in flow.get(city.supervisor, "/api/sla/summary", query_string=PERIOD)
              .json["departments"]}[city.office.id]
    f.login(client, "dsj.supervisor")
    summary = lxml.html.fromstring(client.get("/sla/", query_string=PERIOD).get_data(as_text=True))
    link = summary.xpath(f'//a[@id="open-overdue-{city.office.id}"]/@href')[0]
    listed = lxml.html.fromstring(client.get(link).get_data(as_text=True))
    keys = [a.text_content() for a in listed.xpath('//table[@id="open-steps"]//td[1]/a')]
    assert len(keys) == office["overdue"] == 1 and keys == [waiting]
    assert listed.xpath('//table[@id="open-steps"]//td[1]/a/@href')[0] == f"/applications/{waiting}"
    for state in ("open", "due_soon", "escalated"):
        page = lxml.html.fromstring(client.get("/sla/open", query_string={
            "state": state, "department": city.office.id}).get_data(as_text=True))
        assert len(page.xpath('//table[@id="open-steps"]/tbody/tr')) == office[state], state
    assert client.get("/sla/open", query_string={"state": "nope"}).status_code == 200


def test_supervisors_see_every_department_and_change_nothing(records, flow, city, entries):
    share, waiting, objection = records
    sup = city.supervisor
    assert flow.get(sup, f"/api/applications/{share}").status_code == 200
    assert flow.get(sup, f"/api/cases/{objection}").status_code == 200
    task = flow.task(waiting, "formal_review")
    writes = [
        flow.post(sup, f"/api/tasks/{task['id']}/complete", json={"decision": "accept"}),
        flow.post(sup, f"/api/tasks/{task['id']}/claim"),
        flow.post(sup, "/api/applications", json={"entry_id": entries.conditional.id}),
        flow.post(sup, f"/api/applications/{waiting}/withdraw", json={"reasons": "x"}),
        flow.post(sup, f"/api/applications/{waiting}/urge"),
        flow.post(sup, "/api/cases/data_objection", json={"entry_id": entries.unconditional.id,
                                                          "description": "x"}),
        flow.post(sup, "/api/catalog/entries", json=f.entry_data("SUP-1")),
    ]
    assert [w.status_code for w in writes] == [403] * len(writes), [(w.status_code, w.json) for w in writes]
    assert flow.task(waiting, "formal_review")["assignee_id"] is None


def test_a_long_list_is_counted_only_up_to_its_cap(records):
    from sqlalchemy import select

    from app.catalog.queries import page_of
    from app.flows.models import Case

    stmt = select(Case).order_by(Case.id)
    capped = page_of(stmt, 1, 1, cap=2)
    assert (capped.total, capped.capped, capped.pages, len(capped.items)) == (2, True, 2, 1)
    exact = page_of(stmt, 1, 1, cap=3)
    assert (exact.total, exact.capped) == (3, False)


def test_the_api_lists_the_records_and_the_open_steps_behind_the_figures(records, flow, city, client):
    import io

    import openpyxl

    share, waiting, objection = records
    listed = flow.get(city.supervisor, "/api/sla/records", query_string={**PERIOD, "overdue": "true"})
    assert listed.status_code == 200, listed.json
    assert [r["business_key"] for r in listed.json] == [waiting]
    everything = flow.get(city.supervisor, "/api/sla/records", query_string={**PERIOD, "sort": "oldest"}).json
    assert [r["business_key"] for r in everything] == [share, waiting, objection]
    overdue = flow.get(city.supervisor, "/api/sla/open-steps", query_string={"state": "overdue"}).json
    assert [(s["business_key"], s["task_spec"]) for s in overdue] == [(waiting, "formal_review")]
    assert flow.get(city.police_approver, "/api/sla/records").status_code == 403
    assert flow.get(city.supervisor, "/api/sla/open-steps", query_string={"state": "x"}).status_code == 422
    f.login(client, "dsj.supervisor")
    rows = client.get("/sla/open.csv", query_string={"state": "overdue"}).get_data(as_text=True)
    assert waiting in rows and share not in rows
    book = openpyxl.load_workbook(io.BytesIO(client.get("/sla/summary.xlsx", query_string=PERIOD).data))
    assert book.sheetnames == ["各部门时效", "按业务类型", "趋势"]
    flows = {row[0] for row in list(book["按业务类型"].values)[1:]}
    assert flows == {"有条件共享申请", "数据疑义校核"}


def test_every_step_carries_its_flow_for_the_open_work_counts(records):
    from sqlalchemy import select

    from app.engine.models import HumanTask, ProcessInstance
    from app.extensions import db

    pairs = db.session.execute(select(HumanTask.process_id, ProcessInstance.process_id)
                               .join(ProcessInstance, HumanTask.instance_id == ProcessInstance.id)).all()
    assert pairs and all(step == instance for step, instance in pairs)
