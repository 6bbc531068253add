"""年度共享情况报告 (宝鸡 art. 24: departments report on the past year by the end of January,
the office compiles and reports to the city government). Where the profile has `annual_report`,
the platform puts the January report period on the office supervisors' desk: one case per
reported year, started by the first scheduler run of the new year (`start_annual_report`), its
step due one month after the year's last day — the end of January, rolled past a holiday (民法典
art. 203). The figures to compile are the yearly assessment (app/flows/assessment.py).
bpmn/annual_report.bpmn."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from app.clock import to_local, utcnow
from app.engine.models import ProcessDefinition
from app.extensions import db
from app.flows.base import CaseDraft, Flow, open_case
from app.flows.models import Case
from app.flows.parties import office_department
from app.legaltime.periods import start_of_day
from app.policy import active_policy
from app.validation import N_, Schema, meta, required_text

OUTCOME_LABELS = {"reported": "已汇总报告"}


class AnnualReportForm(Schema):
    """The office's supervisors record what they compiled and reported."""

    report_summary = required_text(2000, metadata=meta(
        N_("汇总情况（已收到报告的部门、主要问题、报送市政府的情况）"),
        hint=N_("各部门评估数据见“时效监督 › 年度评估”，可导出 Excel 附于报告。"),
        description="汇总情况"))


def report_title(year: int) -> str:
    return f"{year}年度政务信息资源共享情况报告"


def start_annual_report(now: datetime | None = None) -> Case | None:
    """Open the past year's report case, once (a periodic job; several schedulers never run it
    at once). Nothing where the profile has no annual report or the flow is not deployed."""
    policy = active_policy()
    if not policy.switch("annual_report"):
        return None
    year = to_local(now or utcnow()).year - 1
    title = report_title(year)
    if db.session.scalar(select(Case.id).where(Case.flow == FLOW.process_id, Case.title == title)):
        return None
    if not db.session.scalar(select(ProcessDefinition.id).where(ProcessDefinition.process_id == FLOW.process_id)):
        return None
    year_ended = start_of_day(date(year, 12, 31))
    office = office_department("flow")
    return open_case(FLOW, CaseDraft(title=title, department_id=office.id, details={"year": year},
                                     data={"year": year, "year_ended": year_ended.isoformat()}), policy)


FLOW = Flow("annual_report", "ND", "年度共享情况报告", forms={"annual_report_form": AnnualReportForm},
            verbs={}, outcome_labels=OUTCOME_LABELS)
