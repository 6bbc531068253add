"""撤销发布 (南通 art. 16): a provider revokes a published resource from a date announced in
advance; where the profile says so the office approves first. bpmn/revocation.bpmn."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validates_schema

from app.catalog import services as catalog
from app.catalog.models import PublishState
from app.flows.base import (
    COMMON_FORMS,
    CaseDraft,
    DecisionWithReasons,
    Flow,
    case_of,
    iso,
    mark_case,
    open_case_of,
    today,
    visible_entry,
)
from app.flows.parties import GRANTEES, actor_user, tell
from app.legaltime.periods import start_of_day
from app.org.models import Role, User
from app.policy import Policy
from app.validation import N_, FieldErrors, Schema, choice, meta, optional_text, required_text

DECISIONS = {"approve": N_("同意"), "refuse": N_("不同意")}
OUTCOME_LABELS = {"approved": "已同意", "refused": "不同意", "revoked": "已撤销发布"}


class RevocationStartForm(Schema):
    """撤销发布 (南通 art. 16): which resource, why, from when (announced in advance)."""

    entry_id = fields.Integer(required=True, metadata=meta(N_("撤销发布的资源"), description="撤销发布的目录条目"))
    reasons = required_text(2000, metadata=meta(N_("撤销理由"), description="撤销理由"))
    effective_date = fields.Date(required=True, metadata=meta(
        N_("撤销生效日期"), description="拟撤销生效日期",
        hint=N_("须晚于今天：撤销前须提前告知使用部门和主管部门（南通细则第十六条）")))

    @validates_schema
    def _future(self, data, **_):
        if data.get("effective_date") and data["effective_date"] <= today():
            raise ValidationError({"effective_date": ["撤销生效日期须晚于今天，以便提前告知使用部门和主管部门（南通细则第十六条）"]})


class RevocationDecisionForm(DecisionWithReasons):
    """The office approves or refuses a revocation (南通 art. 16); refusal needs reasons."""

    REASONS_REQUIRED = {"refuse": "不同意撤销的，必须说明理由"}
    decision = choice(list(DECISIONS), DECISIONS, required=True, metadata=meta(N_("审核意见")))
    # an opinion may go with an approval too, so the field is always shown
    reasons = optional_text(2000, metadata=meta(N_("意见或不同意的理由"), description="意见或不同意的理由"))


def prepare(user: User, data: dict, policy: Policy) -> CaseDraft:
    entry = visible_entry(user, data["entry_id"])
    if entry.provider_department_id != user.department_id:
        raise FieldErrors({"entry_id": ["只能撤销本部门发布的资源"]})
    if entry.publish_state != PublishState.PUBLISHED.value:
        raise FieldErrors({"entry_id": ["只有已发布的资源才能撤销发布"]})
    pending = open_case_of("revocation", entry_id=entry.id)
    if pending is not None:
        raise FieldErrors({"entry_id": [f"该资源已有办理中的撤销申请 {pending.business_key}"]})
    effective_at = start_of_day(data["effective_date"])  # 00:00 local of the effective date
    return CaseDraft(
        title=f"撤销发布：{entry.name}", department_id=entry.provider_department_id, entry_id=entry.id,
        due_at=effective_at,
        details={"reasons": data["reasons"].strip(), "effective_date": iso(data["effective_date"])},
        data={"entry_id": entry.id, "entry_name": entry.name, "resource_code": entry.resource_code,
              "provider_department_id": entry.provider_department_id, "reasons": data["reasons"].strip(),
              "effective_date": iso(data["effective_date"]), "effective_at": effective_at.isoformat(),
              "revocation_needs_approval": policy.switch("revocation_needs_approval")})


def revoke_entry(ctx) -> dict:
    """At the effective date: the entry is revoked and every active grant of it ends; the
    grantees (exactly those whose grants ended), the provider and the office are told."""
    case = case_of(ctx)
    ended = catalog.revoke_entry(case.entry, case.details.get("reasons") or "", actor_user(ctx),
                                 ctx.business_key)
    grantee_ids = sorted({g.grantee_department_id for g in ended})
    mark_case(ctx, case, "revoked", None, close=True)
    body = (f"资源「{case.entry.name}」（{case.entry.resource_code}）已于 {case.details['effective_date']} "
            f"撤销发布，相关授权同时终止。撤销理由：{case.details.get('reasons')}")
    tell(ctx, [GRANTEES, "provider", "office"], "资源已撤销发布，授权终止", body, grantee_ids=grantee_ids)
    return {"grants_ended": [g.id for g in ended], "grantee_department_ids": grantee_ids,
            "at": ctx.now.isoformat()}


FLOW = Flow("revocation", "CX", "撤销发布",
            forms={"revocation_decision_form": RevocationDecisionForm, **COMMON_FORMS},
            verbs={"revoke_entry": revoke_entry}, outcome_labels=OUTCOME_LABELS,
            start_form=RevocationStartForm, prepare=prepare, starter_role=Role.PROVIDER_APPROVER)
