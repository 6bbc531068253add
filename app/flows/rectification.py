"""整改通知 (宝鸡 art. 29; 南通 art. 33; 乌海 art. 20): the office orders a department to
rectify by a deadline; the department reports, the office verifies; a missed deadline is
reported or circulated and, where the profile says so, suspends the department's use of shared
data until the rectification is accepted. bpmn/rectification.bpmn."""
from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validates_schema
from sqlalchemy import select

from app.clock import utcnow
from app.extensions import db
from app.flows.base import (
    COMMON_FORMS,
    CaseDraft,
    Flow,
    case_body,
    case_of,
    chosen_department,
    iso,
    set_details,
    stripped,
    today,
)
from app.flows.models import Case, CaseStatus
from app.flows.parties import actor_user, tell
from app.legaltime.periods import Due, end_of_day
from app.org import services as org
from app.org.models import Role, User
from app.policy import Policy, deadline_for, reminder_before
from app.validation import N_, FieldErrors, Schema, choice, is_blank, meta, optional_text, required_text

VERIFICATIONS = {"accept": N_("整改合格"), "send_back": N_("退回重新整改")}
# 宝鸡 art. 29; 南通 art. 33; 乌海 art. 20
VIOLATION_CATEGORIES = {
    "catalogue_not_maintained": N_("未按要求编制、注册或更新政务信息资源目录"),
    "data_not_provided": N_("未按规定向共享平台提供共享信息"),
    "data_inaccurate": N_("提供的数据不真实、不准确、不一致、未及时更新或无法使用"),
    "misuse": N_("将共享信息用于履职以外的目的、擅自转让第三方或开展经营活动"),
    "mismanagement": N_("共享信息管理失控，致使滥用、非授权使用、扩散或泄漏"),
    "excessive_collection": N_("随意采集、扩大采集范围或重复采集数据"),
    "refused_rectification": N_("对责令整改的问题拒不整改"),
    "other": N_("其他违反共享管理规定的行为"),
}
OUTCOME_LABELS = {"reported": "已报告整改情况", "sent_back": "退回重新整改", "rectified": "整改完成",
                  "overdue": "逾期未整改", "suspended": "暂停共享数据使用资格"}


class RectificationStartForm(Schema):
    """整改通知 (宝鸡 art. 29; 南通 art. 33; 乌海 art. 20)."""

    rectified_department_id = fields.Integer(required=True, metadata=meta(N_("被通知整改的部门"),
                                                                          description="被通知整改的部门"))
    violation_category = choice(list(VIOLATION_CATEGORIES), VIOLATION_CATEGORIES, required=True,
                                metadata=meta(N_("违规情形")))
    description = required_text(2000, metadata=meta(N_("问题描述"), description="问题描述"))
    deadline = fields.Date(load_default=None, allow_none=True, metadata=meta(
        N_("整改期限（最后一日）"), description="整改期限（最后一日）；留空按辖区默认期限",
        hint=N_("留空按本辖区默认整改期限计算")))

    @validates_schema
    def _future(self, data, **_):
        if data.get("deadline") and data["deadline"] <= today():
            raise ValidationError({"deadline": ["整改期限须晚于今天"]})


class RectificationReportForm(Schema):
    """The department reports what it rectified."""

    report = required_text(4000, metadata=meta(N_("整改情况报告"), description="整改情况报告"))

    @post_load
    def _out(self, data, **_):
        return {"report": data["report"].strip()}


class RectificationVerificationForm(Schema):
    """The office verifies the rectification: accept, or send back with an opinion."""

    decision = choice(list(VERIFICATIONS), VERIFICATIONS, required=True, metadata=meta(N_("核查结论")))
    opinion = optional_text(2000, metadata=meta(N_("核查意见"), description="核查意见"))

    @validates_schema
    def _check(self, data, **_):
        if data.get("decision") == "send_back" and is_blank(data.get("opinion")):
            raise ValidationError({"opinion": ["退回重新整改的，必须说明未整改到位的问题"]})

    @post_load
    def _out(self, data, **_):
        return {"decision": data["decision"], "opinion": stripped(data.get("opinion"))}


class MissedRectificationForm(Schema):
    """Deadline passed unrectified: what the office reported / circulated (宝鸡 art. 29: reported
    to the city government; 南通 art. 33 / 乌海 art. 20: written circular)."""

    circular_no = optional_text(100, metadata=meta(N_("通报或报告文号"), description="通报或报告文号"))
    circular_note = required_text(2000, metadata=meta(N_("上报或书面通报情况"), description="上报或书面通报情况"))

    @post_load
    def _out(self, data, **_):
        return {"circular_no": stripped(data.get("circular_no")), "circular_note": data["circular_note"].strip()}


def prepare(user: User, data: dict, policy: Policy) -> CaseDraft:
    dept = chosen_department(data["rectified_department_id"], "rectified_department_id")
    if dept.is_office:
        raise FieldErrors({"rectified_department_id": ["不能向主管部门自身下达整改通知"]})
    now = utcnow()
    if data.get("deadline"):
        due = Due(end_of_day(data["deadline"], policy.close_of_business), False, data["deadline"])
    else:
        due = deadline_for("rectification_default", now, policy)
    reminder = reminder_before(due, now, policy)
    label = VIOLATION_CATEGORIES[data["violation_category"]]
    details = {"violation_category": data["violation_category"], "description": data["description"].strip(),
               "deadline": iso(due.local_date)}
    return CaseDraft(
        title=f"整改通知：{dept.name}（{label}）", department_id=dept.id, due_at=due.at, details=details,
        data={**details, "violation_label": label, "rectified_department_id": dept.id,
              "rectified_department_name": dept.name, "rectification_due": due.at.isoformat(),
              "rectification_reminder": reminder.at.isoformat(),
              "suspension_on_missed_rectification": policy.switch("suspension_on_missed_rectification"),
              "written_circular_on_missed_rectification":
                  policy.switch("written_circular_on_missed_rectification")})


def _holds_suspension(case: Case) -> bool:
    return bool((case.details or {}).get("suspended")) and not (case.details or {}).get("suspension_lifted_at")


def suspend_department(ctx) -> dict:
    """Deadline passed unrectified and the profile says so (宝鸡 art. 29): the department's
    qualification to use shared data is suspended until the office accepts its rectification."""
    case = case_of(ctx)
    dept = case.department
    org.suspend_department(dept, f"{case.business_key} 逾期未整改（{ctx.data.get('violation_label')}）",
                           actor_user(ctx))
    set_details(case, suspended=True, suspended_at=ctx.now.isoformat())
    tell(ctx, ["rectified", "office"], FLOW.notice_title("suspended"),
         case_body(case) + "。整改期限届满仍未整改，暂停本部门共享其他部门信息资源的资格：授权暂停使用、"
         "不能提出新的共享申请，整改完成并经主管部门核查通过后恢复（宝鸡办法第二十九条）")
    return {"department_id": dept.id, "suspended": True}


def lift_suspension(ctx) -> dict:
    """The office accepted the rectification: reinstate the department, unless another open
    rectification still holds a suspension of it."""
    case = case_of(ctx)
    if not _holds_suspension(case):
        return {"lifted": False}
    set_details(case, suspension_lifted_at=ctx.now.isoformat())
    others = db.session.scalars(select(Case).where(
        Case.flow == FLOW.process_id, Case.department_id == case.department_id, Case.id != case.id,
        Case.status == CaseStatus.IN_PROGRESS.value)).all()
    if any(_holds_suspension(other) for other in others):
        return {"lifted": False, "held_by": [o.business_key for o in others if _holds_suspension(o)]}
    org.lift_suspension(case.department, f"{case.business_key} 整改完成", actor_user(ctx))
    tell(ctx, "rectified", "已恢复共享数据使用资格", case_body(case) + "。整改已核查通过，恢复共享数据使用资格")
    return {"lifted": True}


FLOW = Flow("rectification", "ZG", "整改通知",
            forms={"rectification_report_form": RectificationReportForm,
                   "rectification_verification_form": RectificationVerificationForm,
                   "missed_rectification_form": MissedRectificationForm, **COMMON_FORMS},
            verbs={"suspend_department": suspend_department, "lift_suspension": lift_suspension},
            outcome_labels=OUTCOME_LABELS, start_form=RectificationStartForm, prepare=prepare,
            starter_role=Role.OFFICE_REVIEWER)
