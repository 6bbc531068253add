"""SLA figures (issue 15 definitions, app/sla/figures.py) for hand-built steps run through the
real conditional-share flow on a frozen clock: same-day, late across the National Day holiday
and its make-up Saturday, on time across it — and the drill-down totals equal the summary."""
from __future__ import annotations

from tests.flows.conftest import local

PERIOD = {"from": "2026-09-01", "to": "2026-10-31"}
APPROVE = {"decision": "approve", "scope": "本部门出生登记业务", "valid_from": "2026-10-12", "valid_until": "2027-09-30"}


def test_on_time_late_and_working_days_per_department(flow, entries, city, clock):
    # filed Wednesday 30 Sep 10:00; the formal review (1 wd) is due at the end of Thu 8 Oct
    same_day = flow.apply(city.health_applicant, entries.conditional)
    late = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 9, 30, 15, 0))
    flow.do(city.reviewer, same_day, "formal_review", {"decision": "accept"})      # 0 wd, on time
    clock.move_to(local(2026, 10, 10, 10, 0))  # the make-up working Saturday
    flow.do(city.reviewer, late, "formal_review", {"decision": "accept"})          # 8, 9, 10 Oct: 3 wd, late
    clock.move_to(local(2026, 10, 12, 9, 0))
    flow.do(city.police_approver, same_day, "provider_review", APPROVE)           # 8, 9, 10, 12 Oct: 4 wd

    summary = flow.get(city.supervisor, "/api/sla/summary", query_string=PERIOD)
    assert summary.status_code == 200, summary.json
    figures = {d["department_id"]: d for d in summary.json["departments"]}
    office, police = figures[city.office.id], figures[city.police.id]
    assert (office["completed"], office["with_deadline"], office["on_time"], office["late"]) == (2, 2, 1, 1)
    assert office["on_time_rate"] == 0.5
    assert (office["median_response_workdays"], office["p90_response_workdays"]) == (0, 3)
    assert (police["completed"], police["on_time"], police["on_time_rate"]) == (1, 1, 1.0)
    assert police["median_response_workdays"] == police["p90_response_workdays"] == 4
    assert police["department"] == city.police.name

    # drill-down: the steps behind the figures, per department and in all
    steps = flow.get(city.supervisor, "/api/sla/steps", query_string={**PERIOD, "department": city.office.id})
    assert steps.status_code == 200
    assert sorted((s["task_spec"], s["on_time"], s["response_workdays"]) for s in steps.json) == [
        ("formal_review", False, 3), ("formal_review", True, 0)]
    late_only = flow.get(city.supervisor, "/api/sla/steps", query_string={**PERIOD, "department": city.office.id,
                                                                           "late": "true"})
    assert [(s["business_key"], s["on_time"]) for s in late_only.json] == [(late, False)]
    everything = flow.get(city.supervisor, "/api/sla/steps", query_string={**PERIOD, "page_size": 100})
    assert len(everything.json) == sum(d["completed"] for d in figures.values())
    # a period that ends before the late review leaves it out
    early = flow.get(city.supervisor, "/api/sla/summary", query_string={"from": "2026-09-01", "to": "2026-10-09"})
    assert {d["department_id"]: d["completed"] for d in early.json["departments"] if d["completed"]} == {
        city.office.id: 1}


def test_only_the_office_reads_the_figures_and_bad_periods_are_field_errors(flow, city, clock):
    assert flow.get(city.police_approver, "/api/sla/summary").status_code == 403
    assert flow.get(city.health_applicant, "/api/sla/steps").status_code == 403
    backwards = flow.get(city.supervisor, "/api/sla/summary", query_string={"from": "2026-10-02", "to": "2026-10-01"})
    assert backwards.status_code == 422 and "to" in backwards.json["errors"]["query"]
    assert flow.get(city.supervisor, "/api/sla/steps", query_string={"flow": "nope"}).status_code == 422
    for bad in ({"from": "0001-01-01", "to": "0001-01-02"}, {"from": "9999-12-01", "to": "9999-12-31"},
                {"department": "abc"}, {"department": "0"}):
        refused = flow.get(city.supervisor, "/api/sla/steps", query_string=bad)
        assert refused.status_code == 422, (bad, refused.json)
    default = flow.get(city.reviewer, "/api/sla/summary")
    assert default.status_code == 200 and default.json["period_from"] == "2026-09-01"


def test_steps_completed_before_the_measure_get_it_from_the_command(flow, entries, city, clock, runner):
    from sqlalchemy import update

    from app.engine.models import HumanTask
    from app.extensions import db
    from tests.factories import commit

    key = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 10, 8, 10, 0))
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    db.session.execute(update(HumanTask).values(on_time=None, response_workdays=None))  # as after the migration
    commit()
    result = runner.invoke(args=["sla", "measure"])
    assert result.exit_code == 0 and "已计算 1 个" in result.output, result.output
    row = db.session.scalars(db.select(HumanTask).where(HumanTask.task_spec == "formal_review")).one()
    db.session.refresh(row)
    assert (row.on_time, row.response_workdays) == (True, 1)  # 30 Sep → 8 Oct: one working day


def test_the_supervisors_page_shows_the_figures_and_drills_down_to_the_record(flow, entries, city, clock, client):
    from tests import factories as f

    key = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 10, 10, 10, 0))
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})  # 3 wd, late
    f.login(client, "dsj.supervisor")
    home = f.page_text(client.get("/"))
    assert "时效监督" in home and "共享申请" in home  # the supervisor's menu
    page = client.get("/sla/", query_string=PERIOD)
    assert page.status_code == 200
    text = f.page_text(page)
    assert city.office.name in text and "0.0%" in text
    html = page.get_data(as_text=True)
    assert 'id="sla-chart"' in html and "echarts.min.js" in html
    steps = client.get("/sla/steps", query_string={**PERIOD, "department": city.office.id, "late": "true"})
    body = steps.get_data(as_text=True)
    assert steps.status_code == 200 and key in body and "逾期" in body
    assert f'/applications/{key}' in body
    # a bad period is a field error on the page, not a 500
    bad = client.get("/sla/", query_string={"from": "2026-10-09", "to": "2026-10-01"})
    assert bad.status_code == 200 and "截止日期不能早于起始日期" in bad.get_data(as_text=True)
    # a provider's approver may not look
    f.post_form(client, "/sign-out", {})
    f.login(client, "gaj.approver")
    assert client.get("/sla/").status_code == 403


def test_the_figures_download_as_csv_and_print_from_the_command_the_same(flow, entries, city, clock, client, runner):
    import csv
    import io
    import json

    import openpyxl

    from tests import factories as f

    key = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 10, 10, 10, 0))
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    f.login(client, "dsj.supervisor")
    summary = client.get("/sla/summary.csv", query_string=PERIOD)
    assert summary.status_code == 200 and summary.mimetype == "text/csv"
    assert "attachment" in summary.headers["Content-Disposition"]
    text = summary.get_data(as_text=True)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert table[0][:2] == ["办理部门", "已完成"] and table[1][:6] == [city.office.name, "1", "1", "0", "1", "0.0%"]
    steps = list(csv.reader(io.StringIO(client.get("/sla/steps.csv", query_string=PERIOD).get_data(as_text=True).lstrip("\ufeff"))))
    assert steps[1][0] == key and steps[1][-2:] == ["否", "3"]
    assert client.get("/sla/summary.csv", query_string={"from": "x"}).status_code == 400
    # the same tables as .xlsx: the same cells, as numbers where they are numbers
    book = openpyxl.load_workbook(io.BytesIO(client.get("/sla/summary.xlsx", query_string=PERIOD).data))
    rows = [[("" if v is None else str(v)) for v in row] for row in book.active.values]
    assert book.active.title == "各部门时效" and rows == table
    steps_book = openpyxl.load_workbook(io.BytesIO(client.get("/sla/steps.xlsx", query_string=PERIOD).data))
    assert list(steps_book.active.values)[1][-2:] == ("否", 3)
    assert client.get("/sla/steps.pdf", query_string=PERIOD).status_code == 404

    printed = runner.invoke(args=["sla", "report", "--from", "2026-09-01", "--to", "2026-10-31"])
    assert printed.exit_code == 0 and list(csv.reader(io.StringIO(printed.output))) == table
    as_json = json.loads(runner.invoke(args=["sla", "report", "--from", "2026-09-01", "--to", "2026-10-31",
                                             "--format", "json"]).output)
    assert as_json["departments"][0]["late"] == 1
    refused = runner.invoke(args=["sla", "report", "--from", "2026-10-31", "--to", "2026-10-01"])
    assert refused.exit_code == 2 and "截止日期不能早于起始日期" in refused.output
    as_xlsx = runner.invoke(args=["sla", "report", "--from", "2026-09-01", "--to", "2026-10-31", "--format", "xlsx"])
    assert as_xlsx.exit_code == 0
    assert list(openpyxl.load_workbook(io.BytesIO(as_xlsx.stdout_bytes)).active.values)[1][0] == city.office.name


def test_a_completion_just_after_local_midnight_belongs_to_its_local_day(flow, entries, city, clock):
    # 07:00 on 1 Oct in Shanghai is 23:00 UTC on 30 Sep: the step counts in October, local time
    key = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 10, 1, 7, 0))
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    september = flow.get(city.supervisor, "/api/sla/steps", query_string={"from": "2026-09-01", "to": "2026-09-30"})
    october = flow.get(city.supervisor, "/api/sla/steps", query_string={"from": "2026-10-01", "to": "2026-10-01"})
    assert september.json == [] and [s["business_key"] for s in october.json] == [key]
    assert october.json[0]["response_workdays"] == 0  # 1 Oct is a holiday: no working day passed


def test_exports_are_the_offices_only_and_formulas_stay_text(flow, city, client):
    from app.tabular import csv_lines
    from tests import factories as f

    f.login(client, "gaj.approver")
    assert client.get("/sla/summary.csv").status_code == 403
    assert client.get("/sla/steps.csv").status_code == 403
    text = "".join(csv_lines(("名称",), [("=HYPERLINK(\"http://x\")",), ("市公安局",)]))
    assert "'=HYPERLINK" in text and "\n市公安局" in text.replace("\r", "")


def test_the_summary_counts_each_departments_open_work_now(flow, entries, city, clock):
    from app.engine import fire_due_timers

    key = flow.apply(city.health_applicant, entries.conditional)
    flow.apply(city.health_applicant, entries.conditional)  # a second review, on time
    clock.move_to(local(2026, 10, 9, 9, 0))  # both 1-wd reviews are overdue (since 24:00 on 8 Oct): escalated
    fire_due_timers()
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})  # late; its 督办 ends with it
    office = {d["department_id"]: d for d in flow.get(
        city.supervisor, "/api/sla/summary", query_string=PERIOD).json["departments"]}[city.office.id]
    # open: the second review (overdue, escalated) and its supervisors' 督办 (2 wd: due soon)
    assert (office["open"], office["overdue"], office["escalated"], office["due_soon"]) == (2, 1, 1, 1)
    assert (office["completed"], office["late"]) == (1, 1)
    police = {d["department_id"]: d for d in flow.get(
        city.supervisor, "/api/sla/summary", query_string=PERIOD).json["departments"]}[city.police.id]
    assert (police["completed"], police["open"], police["overdue"]) == (0, 1, 0)  # the provider review just arrived


def test_figures_reaching_a_year_without_a_notice_are_provisional_and_counted_again_on_loading(
        flow, entries, city, clock, app, tmp_path, monkeypatch, client):
    import shutil

    from app.db import transaction
    from app.legaltime import load_year, recompute_provisional
    from app.legaltime.service import REPO_CALENDAR_DIR
    from tests import factories as f
    from tests.legaltime.conftest import SYNTHETIC_2027

    calendars = tmp_path / "calendars"
    shutil.copytree(REPO_CALENDAR_DIR, calendars)
    monkeypatch.setitem(app.config, "CALENDAR_DIR", str(calendars))
    clock.move_to(local(2026, 12, 31, 10, 0))
    key = flow.apply(city.health_applicant, entries.conditional, requested_valid_from="2027-01-11")
    clock.move_to(local(2027, 1, 4, 10, 0))
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    winter = {"from": "2026-12-01", "to": "2027-01-31"}

    def office_figures():
        summary = flow.get(city.supervisor, "/api/sla/summary", query_string=winter).json
        return summary["provisional_years"], {d["department_id"]: d for d in summary["departments"]}[city.office.id]

    years, office = office_figures()
    # provisional 2027: only 1 Jan is off, so Monday 4 Jan is the one working day counted
    assert years == [2027] and office["median_response_workdays"] == 1 and office["on_time"] == 1
    assert flow.get(city.supervisor, "/api/sla/summary", query_string=PERIOD).json["provisional_years"] == []
    f.login(client, "dsj.supervisor")
    assert 'id="provisional-figures"' in client.get("/sla/", query_string=winter).get_data(as_text=True)
    assert 'id="provisional-figures"' not in client.get("/sla/", query_string=PERIOD).get_data(as_text=True)

    incoming = tmp_path / "2027.yaml"
    incoming.write_text(SYNTHETIC_2027, encoding="utf-8")
    load_year(incoming)  # the notice: 1–4 Jan off
    with transaction():
        recompute_provisional(2027)
    years, office = office_figures()
    assert years == [] and office["median_response_workdays"] == 0 and office["on_time"] == 1


def test_the_trend_per_week_and_month_adds_up_to_the_summary_and_drills_down(flow, entries, city, clock, client):
    from urllib.parse import parse_qs, urlsplit

    import lxml.html

    from tests import factories as f

    on_time = flow.apply(city.health_applicant, entries.conditional)
    late = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 9, 30, 15, 0))
    flow.do(city.reviewer, on_time, "formal_review", {"decision": "accept"})   # week of 28 Sep, on time
    clock.move_to(local(2026, 10, 10, 10, 0))
    flow.do(city.reviewer, late, "formal_review", {"decision": "accept"})      # week of 5 Oct, late
    weeks = flow.get(city.supervisor, "/api/sla/trend", query_string={**PERIOD, "grain": "week"})
    assert weeks.status_code == 200, weeks.json
    body = weeks.json
    assert body["grain"] == "week" and body["target"] == 0.95 and len(body["buckets"]) == 9
    assert body["buckets"][0]["first"] == "2026-09-01" and body["buckets"][0]["last"] == "2026-09-06"
    filled = {b["first"]: (b["completed"], b["on_time"], b["late"], b["on_time_rate"]) for b in body["buckets"]
              if b["completed"]}
    assert filled == {"2026-09-28": (1, 1, 0, 1.0), "2026-10-05": (1, 0, 1, 0.0)}
    months = flow.get(city.supervisor, "/api/sla/trend", query_string=PERIOD).json  # two months: by week
    assert months["grain"] == "week"
    months = flow.get(city.supervisor, "/api/sla/trend", query_string={**PERIOD, "grain": "month"}).json
    assert [(b["first"], b["completed"]) for b in months["buckets"]] == [("2026-09-01", 1), ("2026-10-01", 1)]
    summary = flow.get(city.supervisor, "/api/sla/summary", query_string=PERIOD).json
    assert sum(b["completed"] for b in months["buckets"]) == sum(d["completed"] for d in summary["departments"])
    assert flow.get(city.supervisor, "/api/sla/trend", query_string={"grain": "day"}).status_code == 422

    f.login(client, "dsj.supervisor")
    page = client.get("/sla/", query_string={**PERIOD, "grain": "week"}).get_data(as_text=True)
    links = [parse_qs(urlsplit(href).query) for href in lxml.html.fromstring(page).xpath(
        '//table[@id="sla-trend-table"]//a/@href')]
    assert 'id="sla-trend"' in page and {"from": ["2026-10-05"], "to": ["2026-10-11"], "late": ["true"]} in links
    drilled = client.get("/sla/steps", query_string={"from": "2026-10-05", "to": "2026-10-11", "late": "true"})
    assert late in drilled.get_data(as_text=True) and on_time not in drilled.get_data(as_text=True)


def test_finished_days_are_read_from_their_daily_sums_and_today_from_the_steps(flow, entries, city, clock, runner):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.sla.rollup import SlaDay, SlaDaySummed

    first = flow.apply(city.health_applicant, entries.conditional)
    second = flow.apply(city.health_applicant, entries.conditional)
    third = flow.apply(city.health_applicant, entries.conditional)
    clock.move_to(local(2026, 9, 30, 15, 0))
    flow.do(city.reviewer, first, "formal_review", {"decision": "accept"})
    today = flow.get(city.supervisor, "/api/sla/summary", query_string=PERIOD).json
    assert db.session.scalar(select(func.count()).select_from(SlaDay)) == 0  # today: counted live
    clock.move_to(local(2026, 10, 1, 0, 30))  # 16:30 UTC on 30 Sep: the local day is 1 Oct
    flow.do(city.reviewer, third, "formal_review", {"decision": "accept"})
    clock.move_to(local(2026, 10, 12, 10, 0))
    flow.do(city.reviewer, second, "formal_review", {"decision": "accept"})  # late, today
    later = {d["department_id"]: d for d in flow.get(city.supervisor, "/api/sla/summary", query_string=PERIOD)
             .json["departments"]}[city.office.id]
    # 30 Sep and 1 Oct (local days) are summed now, one on-time review each; 12 Oct counted live
    rows = db.session.scalars(select(SlaDay).order_by(SlaDay.day)).all()
    assert [(r.day.isoformat(), r.department_id, r.completed, r.on_time) for r in rows] == [
        ("2026-09-30", city.office.id, 1, 1), ("2026-10-01", city.office.id, 1, 1)]
    assert db.session.scalar(select(func.count()).select_from(SlaDaySummed)) == 41  # 1 Sep … 11 Oct
    assert (later["completed"], later["on_time"], later["late"]) == (3, 2, 1)
    assert [d for d in today["departments"] if d["department_id"] == city.office.id][0]["completed"] == 1
    # the steps behind the figures still add up to them
    steps = flow.get(city.supervisor, "/api/sla/steps", query_string={**PERIOD, "department": city.office.id})
    assert len(steps.json) == later["completed"]
    # nothing to measure: the sums stay; measuring steps again forgets them, the next read sums again
    assert runner.invoke(args=["sla", "measure"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(SlaDaySummed)) == 41
    from sqlalchemy import update

    from app.engine.models import HumanTask
    from tests.factories import commit
    db.session.execute(update(HumanTask).values(response_workdays=None))  # as after the migration
    commit()
    assert "已计算 3 个" in runner.invoke(args=["sla", "measure"]).output
    assert db.session.scalar(select(func.count()).select_from(SlaDaySummed)) == 0
    again = {d["department_id"]: d for d in flow.get(city.supervisor, "/api/sla/summary", query_string=PERIOD)
             .json["departments"]}[city.office.id]
    assert again == later
    # the scheduler's hourly job sums the last three years' finished days ahead of any reader
    from app.engine.scheduler import PERIODIC_JOBS
    from app.period_input import MAX_DAYS
    from app.sla.rollup import sum_finished_days

    assert PERIODIC_JOBS["sum_sla_days"][0] is sum_finished_days
    sum_finished_days()
    assert db.session.scalar(select(func.count()).select_from(SlaDaySummed)) == MAX_DAYS


def test_figures_by_flow_and_by_step_add_up_to_the_departments(flow, entries, city, clock, client):
    from tests import factories as f

    key = flow.apply(city.health_applicant, entries.conditional)
    flow.apply(city.health_applicant, entries.conditional)  # its review stays open
    clock.move_to(local(2026, 9, 30, 15, 0))
    flow.do(city.reviewer, key, "formal_review", {"decision": "accept"})
    clock.move_to(local(2026, 10, 12, 9, 0))
    flow.do(city.police_approver, key, "provider_review", APPROVE)
    summary = flow.get(city.supervisor, "/api/sla/summary", query_string=PERIOD).json
    (share,) = summary["flows"]
    assert share["flow"] == "conditional_share"
    assert share["completed"] == sum(d["completed"] for d in summary["departments"]) == 2
    assert share["open"] == sum(d["open"] for d in summary["departments"]) and share["overdue"] >= 1
    steps = flow.get(city.supervisor, "/api/sla/step-figures", query_string=PERIOD).json
    assert sorted((s["department_id"], s["step"], s["completed"], s["median_response_workdays"]) for s in steps) == sorted([
        (city.office.id, "formal_review", 1, 0), (city.police.id, "provider_review", 1, 4)])
    police = flow.get(city.supervisor, "/api/sla/step-figures", query_string={**PERIOD, "department": city.police.id})
    assert [s["step"] for s in police.json] == ["provider_review"]
    f.login(client, "dsj.supervisor")
    page = client.get("/sla/", query_string=PERIOD).get_data(as_text=True)
    assert 'id="sla-flows"' in page and "有条件共享申请" in page
    drill = client.get("/sla/steps", query_string={**PERIOD, "department": city.police.id}).get_data(as_text=True)
    assert 'id="sla-step-figures"' in drill and "提供部门审核" in drill
