"""有条件共享申请 (SPEC §4.1; 南通 arts. 18–23; 宝鸡 art. 16; 西城 arts. 26, 31): the flow's
forms, verbs and labels. bpmn/conditional_share.bpmn decides the order; the application record,
its drafts and its submission are app/flows/applications.py.

Each task form's `load()` returns JSON-able data that lands in the instance data under the
names the BPMN gateways read (decision, reasons, scope, valid_from, valid_until …).
`requested_valid_from` / `requested_valid_until` are filled in by the platform from the
application (never by the client) so a decision can be held to what was asked.
"""
from __future__ import annotations

from datetime import date
from typing import ClassVar

from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema
from sqlalchemy import select

from app.audit.log import record
from app.catalog.grants import end_grant
from app.catalog.grants import issue_grant as catalog_issue_grant
from app.catalog.models import AuthorisationMode, Grant, GrantStatus, ShareType
from app.engine.models import EventType, TaskEvent
from app.errors import Forbidden
from app.extensions import db
from app.flows.base import COMMON_FORMS, Flow, case_of, iso, today
from app.flows.models import PROCESS_ID, Application, ApplicationStatus
from app.flows.parties import actor_user, tell
from app.legaltime.periods import end_of_day, start_of_day
from app.org.models import Department, Role, User
from app.policy import Policy, resolve_policy
from app.validation import N_, Schema, choice, is_blank, meta, optional_text, required_text

DECISIONS = {"approve": N_("同意"), "refuse": N_("不同意")}
STAGE_LABELS = {
    "formal_review": "规范性审查", "amend_application": "补正申请", "platform_authorisation": "平台授权",
    "provider_review": "提供部门审核", "negotiation": "部门协商", "office_arbitration": "主管部门协调",
}
OUTCOME_LABELS = {"approved": "同意", "refused": "不予共享", "returned": "退回补正",
                  "withdrawn": "撤回", "abandoned": "放弃申请"}
# Who authorises when a stage approves (南通 art. 18: the provider directly, or the platform).
PLATFORM_STAGES = frozenset({"platform_authorisation", "office_arbitration"})
PROVIDER_STAGES = frozenset({"provider_review", "negotiation"})


def authorising_mode(entry, policy) -> str | None:
    """Who must authorise an application for `entry` under `policy`: "provider" (its review),
    "platform" (the office's check, 南通 art. 23, where the profile has platform authorisation),
    or None — the platform grants at once. An unconditional resource is granted at once unless it
    needs control parameters (南通 art. 18: its provider authorises, directly or through the
    platform as it chose) or the profile has the office check what the platform authorises
    (南通 art. 23: within 2 working days)."""
    if entry.share_type != ShareType.UNCONDITIONAL.value:
        return entry.authorisation_mode
    if entry.needs_control_parameters and policy.switch("control_parameters"):
        return entry.authorisation_mode
    if policy.switch("platform_authorisation"):
        return AuthorisationMode.PLATFORM.value
    return None


# ---- forms ----------------------------------------------------------------------------------------

APPROVED_PERIOD = ("valid_from", "valid_until")
REQUESTED_PERIOD = ("requested_valid_from", "requested_valid_until")


def check_period(data: dict, errors: dict, names: tuple[str, str] = APPROVED_PERIOD, *,
                 required: bool = True) -> None:
    """The period's end after its start; an approved period within the requested one when that
    is known (the requested period is in the data beside it)."""
    (from_name, until_name), (start, end) = names, (data.get(names[0]), data.get(names[1]))
    if required:
        if start is None:
            errors.setdefault(from_name, []).append("请填写使用期限起始日期")
        if end is None:
            errors.setdefault(until_name, []).append("请填写使用期限截止日期")
    if start and end and end <= start:
        errors.setdefault(until_name, []).append("截止日期须晚于起始日期")
    if names == REQUESTED_PERIOD:
        return
    asked_from, asked_until = (data.get(name) for name in REQUESTED_PERIOD)
    if start and asked_from and start < asked_from:
        errors.setdefault(from_name, []).append(f"不得早于申请的起始日期 {asked_from:%Y-%m-%d}")
    if end and asked_until and end > asked_until:
        errors.setdefault(until_name, []).append(f"授权期限不得超过申请的截止日期 {asked_until:%Y-%m-%d}")


class _Requested(Schema):
    """What was asked for, filled in by the platform from the application (never the client,
    app/flows/tasks.py): a decision is held to it."""

    requested_valid_from = fields.Date(load_default=None, allow_none=True)
    requested_valid_until = fields.Date(load_default=None, allow_none=True)
    requested_items = fields.List(fields.String(), load_default=None, allow_none=True)


def _approved_terms(decision: str, value: str) -> tuple[fields.Field, fields.Field, fields.Field]:
    """The approved scope and period: fields revealed (and required) by `decision == value`."""
    shown = {"shown_when": (decision, value), "required_when_shown": True}
    return (optional_text(1000, metadata=meta(N_("批准的使用范围"), **shown)),
            fields.Date(load_default=None, allow_none=True, metadata=meta(N_("使用期限（起）"), **shown)),
            fields.Date(load_default=None, allow_none=True, metadata=meta(N_("使用期限（止）"), **shown)))


class ApplicationForm(Schema):
    """What the applicant submits (SPEC §4.1 step 1; 南通 art. 20)."""

    entry_id = fields.Integer(required=True)
    purpose = required_text(500, metadata={"description": "用途（履职事项）"})
    requested_scope = required_text(1000, metadata={"description": "申请的使用范围"})
    items = fields.List(fields.String(), required=True,
                        validate=validate.Length(min=1, error="请至少选择一个信息项"))
    legal_basis = required_text(500, metadata={"description": "申请依据"})
    requested_valid_from = fields.Date(required=True, metadata={"description": "申请的使用期限（起）"})
    requested_valid_until = fields.Date(required=True, metadata={"description": "申请的使用期限（止）"})

    @validates_schema(skip_on_field_errors=False)
    def _period(self, data, **_):
        errors: dict = {}
        check_period(data, errors, REQUESTED_PERIOD, required=False)  # the fields themselves are required
        if data.get("requested_valid_from") and data["requested_valid_from"] < today():
            errors.setdefault("requested_valid_from", []).append("起始日期不得早于今天")
        if errors:
            raise ValidationError(errors)


class ApplicationDraftForm(Schema):
    """A saved, unsubmitted application: only the entry is required; whatever else is given
    must still have its type (dates parse, texts fit). `ApplicationForm` judges it on submit."""

    entry_id = fields.Integer(required=True)
    purpose = optional_text(500, metadata={"description": "用途（履职事项）"})
    requested_scope = optional_text(1000, metadata={"description": "申请的使用范围"})
    items = fields.List(fields.String(), load_default=None, allow_none=True)
    legal_basis = optional_text(500, metadata={"description": "申请依据"})
    requested_valid_from = fields.Date(load_default=None, allow_none=True)
    requested_valid_until = fields.Date(load_default=None, allow_none=True)

    @pre_load
    def _blank_is_none(self, data, **_):
        """An empty form field clears the value instead of failing to parse."""
        if not isinstance(data, dict):
            return data
        return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()}


class FormalReviewForm(Schema):
    """规范性审查 (南通 art. 21): accept, or return with reasons."""

    decision = choice(["accept", "return"], {"accept": N_("受理"), "return": N_("退回")},
                                  required=True, metadata=meta(N_("审查结论")))
    return_reasons = optional_text(2000, metadata=meta(N_("退回理由"), shown_when=("decision", "return"),
                                                       required_when_shown=True))

    @validates_schema
    def _reasons(self, data, **_):
        if data.get("decision") == "return" and is_blank(data.get("return_reasons")):
            raise ValidationError({"return_reasons": ["退回时必须说明理由（南通细则第二十一条）"]})

    @post_load
    def _out(self, data, **_):
        return {"decision": data["decision"],
                "return_reasons": (data.get("return_reasons") or "").strip() or None}


_RESUBMIT = ("decision", "resubmit")


class AmendApplicationForm(Schema):
    """The applicant resubmits an amended application or withdraws it."""

    decision = choice(["resubmit", "withdraw"], {"resubmit": N_("重新提交"), "withdraw": N_("撤回")},
                          required=True, metadata=meta(N_("处理方式")))
    purpose = optional_text(500, metadata=meta(N_("用途（履职事项）"), shown_when=_RESUBMIT))
    requested_scope = optional_text(1000, metadata=meta(N_("申请的使用范围"), shown_when=_RESUBMIT))
    legal_basis = optional_text(500, metadata=meta(N_("申请依据"), shown_when=_RESUBMIT))
    items = fields.List(fields.String(), load_default=None, allow_none=True,
                        metadata=meta(N_("信息项"), shown_when=_RESUBMIT))
    requested_valid_from = fields.Date(load_default=None, allow_none=True,
                                       metadata=meta(N_("申请使用期限（起）"), shown_when=_RESUBMIT))
    requested_valid_until = fields.Date(load_default=None, allow_none=True,
                                        metadata=meta(N_("申请使用期限（止）"), shown_when=_RESUBMIT))
    amendment_note = optional_text(2000, metadata=meta(N_("补正说明"), shown_when=_RESUBMIT,
                                                       required_when_shown=True))
    withdraw_reason = optional_text(2000, metadata=meta(N_("撤回理由"), shown_when=("decision", "withdraw")))

    @validates_schema
    def _check(self, data, **_):
        errors: dict = {}
        if data.get("decision") == "resubmit" and is_blank(data.get("amendment_note")):
            errors["amendment_note"] = ["请说明补正了哪些内容"]
        for name in ("purpose", "requested_scope", "legal_basis"):
            if name in data and data[name] is not None and is_blank(data[name]):
                errors[name] = ["不能只填空白"]
        if data.get("items") is not None and not data["items"]:
            errors["items"] = ["请至少选择一个信息项"]
        start, end = data.get("requested_valid_from"), data.get("requested_valid_until")
        if start and end and end <= start:
            errors["requested_valid_until"] = ["截止日期须晚于起始日期"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _out(self, data, **_):
        out = {"decision": data["decision"],
               "amendment_note": data.get("amendment_note"), "withdraw_reason": data.get("withdraw_reason")}
        for name in ("purpose", "requested_scope", "legal_basis", "items"):
            if data.get(name) is not None:
                out[name] = data[name].strip() if isinstance(data[name], str) else data[name]
        for name in ("requested_valid_from", "requested_valid_until"):
            if data.get(name) is not None:
                out[name] = data[name].isoformat()
        return out


class AuthorisationDecisionForm(_Requested):
    """Provider review, platform authorisation and office arbitration: approve with scope and
    period, or refuse with reasons (宝鸡 art. 16; 南通 arts. 22, 23; 西城 art. 26; 林州 art. 8)."""

    decision = choice(list(DECISIONS), DECISIONS, required=True, metadata=meta(N_("审核意见")))
    scope, valid_from, valid_until = _approved_terms("decision", "approve")
    approved_items = fields.List(fields.String(), load_default=None, allow_none=True, metadata=meta(
        N_("批准的信息项"), shown_when=("decision", "approve"), choices_from="requested_items",
        hint=N_("默认为申请的全部信息项；只同意其中一部分的，取消勾选其余")))
    reasons = optional_text(2000, metadata=meta(N_("不予共享的理由"), shown_when=("decision", "refuse"),
                                                required_when_shown=True, description="不予共享的理由"))
    opinion = optional_text(2000, metadata=meta(N_("审批意见"), description="审批意见（可选）"))

    @validates_schema
    def _check(self, data, **_):
        errors: dict = {}
        if data.get("decision") == "approve":
            if is_blank(data.get("scope")):
                errors["scope"] = ["同意共享时必须填写使用范围"]
            check_period(data, errors)
            _check_items(data, errors)
        elif is_blank(data.get("reasons")):
            errors["reasons"] = ["不予共享的，必须说明理由"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _out(self, data, **_):
        approve = data["decision"] == "approve"
        return {"decision": data["decision"],
                "scope": data["scope"].strip() if approve else None,
                "valid_from": iso(data["valid_from"]) if approve else None,
                "valid_until": iso(data["valid_until"]) if approve else None,
                "approved_items": data.get("approved_items") if approve else None,
                "reasons": None if approve else data["reasons"].strip(),
                "opinion": (data.get("opinion") or "").strip() or None}


def _check_items(data: dict, errors: dict) -> None:
    """The approved items: some of the requested ones, at least one (None: all of them)."""
    approved, asked = data.get("approved_items"), data.get("requested_items")
    if approved is None:
        return
    if not approved:
        errors["approved_items"] = ["同意共享时至少选择一个信息项；全部不同意的请选择不同意并说明理由"]
    elif asked is not None and set(approved) - set(asked):
        errors["approved_items"] = [f"只能批准申请的信息项，不包括：{'、'.join(sorted(set(approved) - set(asked)))}"]


class _NegotiationOutcome(_Requested):
    """The outcome of 部门协商: the agreed terms (scope and period, within the request) or,
    failing agreement, an account of the disagreement for the office (宝鸡 art. 16)."""

    AGREED: ClassVar[str] = "agree"
    negotiation_note = optional_text(2000, metadata=meta(N_("协商情况说明"), description="协商情况说明",
                                                         shown_when=("decision", "fail")))

    @validates_schema
    def _check(self, data, **_):
        errors: dict = {}
        decision = data.get("decision")
        if decision == self.AGREED:
            if is_blank(data.get("scope")):
                errors["scope"] = ["协商一致时必须填写约定的使用范围"]
            check_period(data, errors)
        elif decision == "fail" and is_blank(data.get("negotiation_note")):
            errors["negotiation_note"] = ["协商未果时必须说明分歧，供主管部门协调"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _out(self, data, **_):
        out = {"decision": data["decision"],
               "negotiation_note": (data.get("negotiation_note") or "").strip() or None}
        if data["decision"] == self.AGREED:
            out.update(scope=data["scope"].strip(), valid_from=iso(data["valid_from"]),
                       valid_until=iso(data["valid_until"]), reasons=None)
        return out


class NegotiationForm(_NegotiationOutcome):
    """部门协商 (宝鸡 art. 16; 南通 art. 27): the applicant proposes the agreed terms, declares
    the negotiation failed, or gives up. An agreement binds only once the provider confirms it."""

    decision = choice(
        ["agree", "fail", "abandon"],
        {"agree": N_("协商一致"), "fail": N_("协商未果"), "abandon": N_("放弃申请")},
        required=True, metadata=meta(N_("协商结果")))
    scope, valid_from, valid_until = _approved_terms("decision", "agree")


class AgreementConfirmationForm(_NegotiationOutcome):
    """The provider's approver confirms the agreement (with the terms it agrees to) or declares
    the negotiation failed, which sends it to the office (宝鸡 art. 16; 西城 art. 26)."""

    AGREED = "confirm"
    decision = choice(
        ["confirm", "fail"], {"confirm": N_("确认协商一致"), "fail": N_("协商未果，提请主管部门协调")},
        required=True, metadata=meta(N_("提供部门意见")))
    scope, valid_from, valid_until = _approved_terms("decision", "confirm")


def proposed_terms(instance_id: int) -> dict:
    """The scope and period the applicant proposed in its last 协商一致 (the provider's
    confirmation starts from them)."""
    event = db.session.scalar(select(TaskEvent).where(
        TaskEvent.instance_id == instance_id, TaskEvent.task_spec == "negotiation",
        TaskEvent.event_type == EventType.COMPLETED).order_by(TaskEvent.at.desc(), TaskEvent.id.desc()).limit(1))
    data = (event.data or {}) if event is not None else {}
    if data.get("decision") != "agree":
        return {}
    return {name: data[name] for name in ("scope", "valid_from", "valid_until") if data.get(name)}


class AgreementForm(Schema):
    """三方共享交换协议 (西城 art. 26) / 安全保密协议 (西城 art. 31): which agreement, signed when."""

    agreement_no = required_text(100, metadata=meta(N_("协议编号"), description="协议编号"))
    signed_on = fields.Date(required=True, metadata=meta(N_("签订日期")))
    note = optional_text(1000, metadata=meta(N_("备注")))

    @post_load
    def _out(self, data, **_):
        return {"agreement_no": data["agreement_no"].strip(), "signed_on": data["signed_on"].isoformat(),
                "note": data.get("note")}


class ThreePartyAgreementForm(AgreementForm):
    @post_load
    def _out(self, data, **_):
        return {"three_party_agreement": AgreementForm._out(self, data)}


class ConfidentialityAgreementForm(AgreementForm):
    @post_load
    def _out(self, data, **_):
        return {"confidentiality_agreement": AgreementForm._out(self, data)}


# ---- verbs ----------------------------------------------------------------------------------------

def _application(ctx) -> Application:
    application = case_of(ctx)
    if not isinstance(application, Application):
        raise LookupError(f"申请 {ctx.business_key} 不存在")
    return application


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
def mark_decision(ctx, stage: str, outcome: str, reasons: str | None = None) -> dict:
    """Record a step's outcome on the application, audit it and tell the applicant.

    A refusal by the provider or the platform is not final: the flow goes on to negotiation
    (宝鸡 art. 16). Refusals are also reported to the office (西城 art. 26).
    """
    application = _application(ctx)
    final = {"returned": ApplicationStatus.RETURNED, "withdrawn": ApplicationStatus.WITHDRAWN,
             "abandoned": ApplicationStatus.ABANDONED}.get(outcome)
    if outcome == "refused" and stage in ("office_arbitration", "negotiation"):
        final = ApplicationStatus.REFUSED
    before = {"status": application.status}
    application.stage, application.outcome, application.reasons = stage, outcome, reasons
    application.updated_at = ctx.now
    if final is not None:
        application.status = final.value
        if final != ApplicationStatus.RETURNED:
            application.closed_at = ctx.now
    record("application.decision", "workflow_case", application.id, before=before,
           after={"stage": stage, "outcome": outcome, "reasons": reasons, "status": application.status,
                  "business_key": ctx.business_key}, actor=actor_user(ctx))
    title = f"{STAGE_LABELS.get(stage, stage)}：{OUTCOME_LABELS.get(outcome, outcome)}"
    body = f"申请 {ctx.business_key}（{application.entry.name}）" + (f"，理由：{reasons}" if reasons else "")
    if outcome == "approved":
        # Where the grant follows in the same step, its notice (period, scope) is the one the
        # applicant needs; an approval still waiting for agreements is told on its own.
        ctx.at_step_end(lambda: None if application.status == ApplicationStatus.GRANTED.value
                        else tell(ctx, "applicant", title, body))
    elif stage != "amend_application":
        tell(ctx, "applicant", title, body)
    if outcome == "refused":
        tell(ctx, "office", title, body)
    actor = ctx.actor
    # who decided, as they were when deciding (a grant may follow weeks later, 西城 art. 26)
    return {"stage": stage, "outcome": outcome, "reasons": reasons,
            "by": actor.user_id if actor else None, "at": ctx.now.isoformat(),
            "by_department_id": actor.department_id if actor else None,
            "by_roles": sorted(actor.roles) if actor else []}


def apply_amendment(ctx) -> dict:
    """Copy the amended fields of a resubmitted application back onto it."""
    application = _application(ctx)
    data = ctx.data
    before = application.audit_view()
    application.purpose = data.get("purpose", application.purpose)
    application.requested_scope = data.get("requested_scope", application.requested_scope)
    application.legal_basis = data.get("legal_basis", application.legal_basis)
    application.items = data.get("items", application.items)
    application.requested_valid_from = _day(data.get("requested_valid_from", application.requested_valid_from))
    application.requested_valid_until = _day(data.get("requested_valid_until", application.requested_valid_until))
    application.status = ApplicationStatus.IN_PROGRESS.value
    application.updated_at = ctx.now
    record("application.amended", "workflow_case", application.id, before=before,
           after=application.audit_view(), actor=actor_user(ctx))
    return {"amended_at": ctx.now.isoformat(), "note": data.get("amendment_note")}


def grant_authority(application: Application, decision: dict | None, policy: Policy) -> tuple[str, User | None]:
    """Who authorises a grant on `decision` (the last mark_decision result): ("platform" |
    "provider", the user who decided). Refused (Forbidden) when the decision is not one that
    may grant — the diagram routes every grant through one of these, and the verb checks it
    again, since a diagram is edited in the browser:

    - none: only an unconditional, non-sensitive resource that nobody must authorise under the
      application's profile (宝鸡 arts. 15(4), 16; 南通 arts. 18, 23: `authorising_mode`);
    - platform authorisation or the office's coordination: a member of the office (南通 art. 23;
      宝鸡 art. 16 — the office's decision is final);
    - provider review or an agreement reached in negotiation: an approver of the providing
      department (宝鸡 art. 16; 西城 art. 26) — the applicant's own word grants nothing.
    """
    entry = application.entry
    if decision is None:
        if (entry.share_type == ShareType.UNCONDITIONAL.value and not entry.sensitive
                and authorising_mode(entry, policy) is None):
            return "platform", None
        raise Forbidden("只有无条件共享、不涉密不涉及隐私、且无须提供部门或主管部门审核的资源可由平台直接授权"
                        "（宝鸡办法第十五、十六条；南通细则第十八、二十三条）")
    stage = decision.get("stage")
    decider = db.session.get(User, decision["by"]) if decision.get("by") else None
    if decider is None or decision.get("outcome") != "approved":  # a refusal never grants
        raise Forbidden("共享授权须有同意的审核决定（宝鸡办法第十六条）")
    # the decider as they were when deciding (decisions recorded before this was kept: as now)
    department_id = decision.get("by_department_id", decider.department_id)
    roles = set(decision.get("by_roles") or {r.value for r in decider.roles})
    office = db.session.get(Department, department_id) if department_id else None
    if stage in PLATFORM_STAGES and office is not None and office.is_office:
        return "platform", decider
    if (stage in PROVIDER_STAGES and department_id == application.provider_department_id
            and Role.PROVIDER_APPROVER.value in roles):
        return "provider", decider
    raise Forbidden("共享授权须由提供部门审核人同意或确认协商结果，或由主管部门协调决定（宝鸡办法第十六条）")


def issue_grant(ctx, decision: dict | None, scope: str, valid_from, valid_until) -> dict:
    """Grant the applicant's department use of the resource for the decided scope and period.

    `decision` is the last mark_decision result; None for an unconditional resource, which the
    platform grants at once (宝鸡 art. 16; 南通 art. 18). The period runs from the start of
    `valid_from` to the end (24:00) of `valid_until`, local time.
    """
    application = _application(ctx)
    authorised_by, decider = grant_authority(application, decision, resolve_policy(ctx.data.get("policy_key")))
    start, end = start_of_day(_day(valid_from)), end_of_day(_day(valid_until), None)
    # the items the last decision approved (None: all those asked for, e.g. an unconditional one)
    items = ctx.data.get("approved_items") or list(application.items)
    grant = catalog_issue_grant(
        application.entry, application.applicant_department, purpose=application.purpose, scope=scope,
        items=items,
        valid_from=start, valid_until=end, authorised_by=authorised_by,
        authorised_by_user=decider, business_key=ctx.business_key)
    application.grant_id = grant.id
    application.status = ApplicationStatus.GRANTED.value
    application.updated_at = ctx.now
    body = (f"申请 {ctx.business_key}（{application.entry.name}）已授权，"
            f"使用期限 {_day(valid_from):%Y-%m-%d} 至 {_day(valid_until):%Y-%m-%d}，范围：{scope}")
    tell(ctx, "applicant", "共享申请已授权", body)
    tell(ctx, "provider", "共享申请已授权", body)
    return {"grant_id": grant.id, "authorised_by": authorised_by, "valid_from": start.isoformat(),
            "valid_until": end.isoformat()}


def expire_grant(ctx, grant_id: int) -> dict:
    """The grant's period is over: it ends and the user must re-apply (南通 art. 26)."""
    grant = db.session.get(Grant, grant_id)
    if grant is not None and grant.status == GrantStatus.ACTIVE.value:
        end_grant(grant, GrantStatus.EXPIRED, "授权期限届满（南通细则第二十六条）")
    application = _application(ctx)
    if application.status == ApplicationStatus.GRANTED.value:
        application.status = ApplicationStatus.EXPIRED.value
        application.closed_at = application.updated_at = ctx.now
        tell(ctx, "applicant", "授权已到期",
              f"申请 {ctx.business_key}（{application.entry.name}）的授权已到期，如需继续使用请重新申请")
    return {"grant_id": grant_id, "status": grant.status if grant else None}


FLOW = Flow(
    PROCESS_ID, "SQ", "有条件共享申请",
    forms={"formal_review_form": FormalReviewForm, "amend_application_form": AmendApplicationForm,
           "authorisation_decision_form": AuthorisationDecisionForm, "negotiation_form": NegotiationForm,
           "agreement_confirmation_form": AgreementConfirmationForm,
           "three_party_agreement_form": ThreePartyAgreementForm,
           "confidentiality_agreement_form": ConfidentialityAgreementForm, **COMMON_FORMS},
    verbs={"mark_decision": mark_decision, "apply_amendment": apply_amendment, "issue_grant": issue_grant,
           "expire_grant": expire_grant},
    outcome_labels=OUTCOME_LABELS,
    period_forms=frozenset({"authorisation_decision_form", "negotiation_form", "agreement_confirmation_form"}))
