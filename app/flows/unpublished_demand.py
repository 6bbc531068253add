"""未发布资源需求 (南通 arts. 24–25; 西城 art. 26): a department asks for data nobody has
published; the office forwards the demand to the department that holds it, which answers and
publishes within its period. bpmn/unpublished_demand.bpmn."""
from __future__ import annotations

from marshmallow import ValidationError, fields, post_load, validates_schema

from app.audit.log import record
from app.catalog.models import CatalogEntry, PublishState
from app.errors import Forbidden
from app.extensions import db
from app.flows.base import (
    COMMON_FORMS,
    CaseDraft,
    DecisionWithReasons,
    Flow,
    case_body,
    case_of,
    chosen_department,
    mark_case,
    set_details,
    stripped,
)
from app.flows.parties import actor_user, tell
from app.org.models import Role, User
from app.org.services import suspension_refusal
from app.policy import Policy
from app.validation import N_, FieldErrors, Schema, choice, meta, optional_text, required_text

DEMAND_ANSWERS = {"not_in_remit": N_("不属于本部门履职范围"), "will_publish": N_("属于本部门职责，将发布资源"),
                  "cannot_publish": N_("因客观原因暂时无法发布")}
REROUTE_ACTIONS = {"reroute": N_("转送其他部门"), "close": N_("办结")}
OUTCOME_LABELS = {"routed": "已转送", "not_in_remit": "不属于本部门履职范围", "will_publish": "将在1个月内发布",
                  "published": "已发布", "feedback_filed": "暂无法发布，已反馈并备案", "closed": "已办结"}


class DemandStartForm(Schema):
    """未发布资源需求 (南通 art. 24; 西城 art. 26): what is needed, and from whom if known."""

    resource_name = required_text(200, metadata=meta(N_("所需资源名称"), description="所需资源名称"))
    description = required_text(2000, metadata=meta(N_("需求说明（信息项、用途、频度等）"),
                                                    description="需求说明（信息项、用途、频度等）"))
    purpose = required_text(500, metadata=meta(N_("用途（履职事项）"), description="用途（履职事项）"))
    provider_department_id = fields.Integer(load_default=None, allow_none=True, metadata=meta(
        N_("提供部门"), description="提供部门；不清楚的留空，由主管部门转送",
        hint=N_("不清楚由哪个部门掌握的，可不选，由主管部门转送（西城办法第二十六条）")))


class RouteDemandForm(Schema):
    """The office forwards a demand to the department that holds the data (西城 art. 26)."""

    provider_department_id = fields.Integer(required=True, metadata=meta(N_("转送至部门"), description="转送至部门"))
    note = optional_text(1000, metadata=meta(N_("转送说明")))

    @post_load
    def _out(self, data, **_):
        return {"provider_department_id": data["provider_department_id"], "route_note": stripped(data.get("note"))}


class DemandAnswerForm(DecisionWithReasons):
    """The department's answer to a demand (南通 art. 25)."""

    REASONS_REQUIRED = {"not_in_remit": "请说明该资源为何不属于本部门履职范围",
                        "cannot_publish": "请说明暂时无法发布的客观原因（南通细则第二十五条）"}
    decision = choice(list(DEMAND_ANSWERS), DEMAND_ANSWERS, required=True, metadata=meta(N_("答复意见")))
    reasons = optional_text(2000, metadata=meta(N_("说明（不属于职责或无法发布的原因）"),
                                                description="说明（不属于职责或无法发布的原因）"))


class RerouteDemandForm(Schema):
    """Not in the department's remit: the office forwards it elsewhere or closes it."""

    decision = choice(list(REROUTE_ACTIONS), REROUTE_ACTIONS, required=True, metadata=meta(N_("处理方式")))
    provider_department_id = fields.Integer(load_default=None, allow_none=True, metadata=meta(
        N_("转送至部门"), shown_when=("decision", "reroute"), required_when_shown=True))
    note = optional_text(1000, metadata=meta(N_("说明")))

    @validates_schema
    def _check(self, data, **_):
        if data.get("decision") == "reroute" and data.get("provider_department_id") is None:
            raise ValidationError({"provider_department_id": ["请选择转送的部门"]})

    @post_load
    def _out(self, data, **_):
        out = {"decision": data["decision"], "route_note": stripped(data.get("note"))}
        if data["decision"] == "reroute":
            out["provider_department_id"] = data["provider_department_id"]
        return out


class DemandPublishForm(Schema):
    """The department names the catalogue entry it published for the demand (南通 art. 25)."""

    published_entry_id = fields.Integer(required=True, metadata=meta(N_("已发布的目录条目"),
                                                                     description="已发布的目录条目"))
    note = optional_text(1000, metadata=meta(N_("备注")))

    @post_load
    def _out(self, data, **_):
        return {"published_entry_id": data["published_entry_id"], "publish_note": stripped(data.get("note"))}


def prepare(user: User, data: dict, policy: Policy) -> CaseDraft:
    refusal = suspension_refusal(user.department, "提出资源需求")
    if refusal:
        raise Forbidden(refusal)
    provider_id = data.get("provider_department_id")
    if provider_id is not None:
        chosen_department(provider_id, "provider_department_id", not_id=user.department_id,
                          own_message="不能向本部门提出资源需求")
    details = {k: data[k].strip() for k in ("resource_name", "description", "purpose")}
    return CaseDraft(
        title=f"资源需求：{details['resource_name']}", department_id=provider_id, details=details,
        data={**details, "applicant_department_id": user.department_id, "applicant_user_id": user.id,
              "provider_department_id": provider_id})


def assign_department(ctx, department_id: int) -> dict:
    """The demand reaches `department_id`: the period to answer and to publish runs from now."""
    case = case_of(ctx)
    dept = chosen_department(department_id, "provider_department_id",
                             not_id=ctx.data.get("applicant_department_id"),
                             own_message="请选择提出需求部门以外的其他部门")
    case.department_id, case.updated_at = dept.id, ctx.now
    routed = [*case.details.get("routed_to", []), dept.id]
    set_details(case, routed_to=routed)
    record("case.routed", "workflow_case", case.id, actor=actor_user(ctx),
           after={"business_key": case.business_key, "department_id": dept.id})
    return {"department_id": dept.id, "department_name": dept.name, "received_at": ctx.now.isoformat()}


def link_published_entry(ctx, entry_id: int) -> dict:
    """The department published the resource asked for (南通 art. 25): link and close."""
    case = case_of(ctx)
    entry = db.session.get(CatalogEntry, entry_id)
    if (entry is None or entry.provider_department_id != case.department_id
            or entry.publish_state != PublishState.PUBLISHED.value):
        raise FieldErrors({"published_entry_id": ["请选择本部门已发布的目录条目"]})
    case.entry_id = entry.id
    mark_case(ctx, case, "published", None, close=True)
    tell(ctx, ["applicant", "office"], FLOW.notice_title("published"),
         case_body(case) + f"。已发布资源「{entry.name}」（{entry.resource_code}），可在目录中申请使用")
    return {"entry_id": entry.id, "entry_name": entry.name}


FLOW = Flow("unpublished_demand", "DM", "未发布资源需求",
            forms={"route_demand_form": RouteDemandForm, "demand_answer_form": DemandAnswerForm,
                   "reroute_demand_form": RerouteDemandForm, "demand_publish_form": DemandPublishForm,
                   **COMMON_FORMS},
            verbs={"assign_department": assign_department, "link_published_entry": link_published_entry},
            outcome_labels=OUTCOME_LABELS, start_form=DemandStartForm, prepare=prepare,
            starter_role=Role.APPLICANT, letter=True)
