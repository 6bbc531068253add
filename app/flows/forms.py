"""User-task forms of the conditional-share flow (marshmallow, Chinese field errors).

Each form's `load()` returns JSON-able data that lands in the instance data under the same
names the BPMN gateways read (decision, reasons, scope, valid_from, valid_until …).
`requested_valid_from` / `requested_valid_until` are filled in by the platform from the
application (never by the client) so a decision can be held to what was asked.
"""
from __future__ import annotations

from datetime import date

from marshmallow import ValidationError, fields, post_load, pre_load, validate, validates_schema

from app.clock import to_local, utcnow
from app.flows.case_forms import CASE_FORMS, DECISIONS
from app.validation import Schema, choice, is_blank, optional_text, required_text


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def check_period(data: dict, errors: dict, *, required: bool = True) -> None:
    """valid_until after valid_from; within the requested period when it is known."""
    start, end = data.get("valid_from"), data.get("valid_until")
    if required:
        if start is None:
            errors.setdefault("valid_from", []).append("请填写使用期限起始日期")
        if end is None:
            errors.setdefault("valid_until", []).append("请填写使用期限截止日期")
    if start and end and end <= start:
        errors.setdefault("valid_until", []).append("截止日期须晚于起始日期")
    asked_from, asked_until = data.get("requested_valid_from"), data.get("requested_valid_until")
    if start and asked_from and start < asked_from:
        errors.setdefault("valid_from", []).append(f"不得早于申请的起始日期 {asked_from:%Y-%m-%d}")
    if end and asked_until and end > asked_until:
        errors.setdefault("valid_until", []).append(f"授权期限不得超过申请的截止日期 {asked_until:%Y-%m-%d}")


class _RequestedPeriod(Schema):
    requested_valid_from = fields.Date(load_default=None, allow_none=True)
    requested_valid_until = fields.Date(load_default=None, allow_none=True)


class ApplicationForm(Schema):
    """What the applicant submits (SPEC §4.1 step 1; 南通 art. 20)."""

    entry_id = fields.Integer(required=True)
    purpose = required_text(500, metadata={"description": "用途（履职事项）"})
    scope = required_text(1000, metadata={"description": "申请的使用范围"})
    items = fields.List(fields.String(), required=True,
                        validate=validate.Length(min=1, error="请至少选择一个信息项"))
    legal_basis = required_text(500, metadata={"description": "申请依据"})
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)

    @validates_schema(skip_on_field_errors=False)
    def _period(self, data, **_):
        errors: dict = {}
        check_period(data, errors, required=False)  # the fields themselves are required
        if data.get("valid_from") and data["valid_from"] < to_local(utcnow()).date():
            errors.setdefault("valid_from", []).append("起始日期不得早于今天")
        if errors:
            raise ValidationError(errors)


class ApplicationDraftForm(Schema):
    """A saved, unsubmitted application: only the entry is required; whatever else is given
    must still have its type (dates parse, texts fit). `ApplicationForm` judges it on submit."""

    entry_id = fields.Integer(required=True)
    purpose = optional_text(500, metadata={"description": "用途（履职事项）"})
    scope = optional_text(1000, metadata={"description": "申请的使用范围"})
    items = fields.List(fields.String(), load_default=None, allow_none=True)
    legal_basis = optional_text(500, metadata={"description": "申请依据"})
    valid_from = fields.Date(load_default=None, allow_none=True)
    valid_until = fields.Date(load_default=None, allow_none=True)

    @pre_load
    def _blank_is_none(self, data, **_):
        """An empty form field clears the value instead of failing to parse."""
        if not isinstance(data, dict):
            return data
        return {k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()}


class FormalReviewForm(Schema):
    """规范性审查 (南通 art. 21): accept, or return with reasons."""

    formal_review_result = choice(["accept", "return"], {"accept": "受理", "return": "退回"}, required=True)
    return_reasons = optional_text(2000)

    @validates_schema
    def _reasons(self, data, **_):
        if data.get("formal_review_result") == "return" and is_blank(data.get("return_reasons")):
            raise ValidationError({"return_reasons": ["退回时必须说明理由（南通细则第二十一条）"]})

    @post_load
    def _out(self, data, **_):
        return {"formal_review_result": data["formal_review_result"],
                "return_reasons": (data.get("return_reasons") or "").strip() or None}


class AmendApplicationForm(Schema):
    """The applicant resubmits an amended application or withdraws it."""

    amend_action = choice(["resubmit", "withdraw"], {"resubmit": "重新提交", "withdraw": "撤回"}, required=True)
    purpose = optional_text(500)
    requested_scope = optional_text(1000)
    legal_basis = optional_text(500)
    items = fields.List(fields.String(), load_default=None, allow_none=True)
    requested_valid_from = fields.Date(load_default=None, allow_none=True)
    requested_valid_until = fields.Date(load_default=None, allow_none=True)
    amendment_note = optional_text(2000)
    withdraw_reason = optional_text(2000)

    @validates_schema
    def _check(self, data, **_):
        errors: dict = {}
        if data.get("amend_action") == "resubmit" and is_blank(data.get("amendment_note")):
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
        out = {"amend_action": data["amend_action"],
               "amendment_note": data.get("amendment_note"), "withdraw_reason": data.get("withdraw_reason")}
        for name in ("purpose", "requested_scope", "legal_basis", "items"):
            if data.get(name) is not None:
                out[name] = data[name].strip() if isinstance(data[name], str) else data[name]
        for name in ("requested_valid_from", "requested_valid_until"):
            if data.get(name) is not None:
                out[name] = data[name].isoformat()
        return out


class AuthorisationDecisionForm(_RequestedPeriod):
    """Provider review, platform authorisation and office arbitration: approve with scope and
    period, or refuse with reasons (宝鸡 art. 16; 南通 arts. 22, 23; 西城 art. 26; 林州 art. 8)."""

    decision = choice(list(DECISIONS), DECISIONS, required=True)
    scope = optional_text(1000, metadata={"description": "批准的使用范围"})
    valid_from = fields.Date(load_default=None, allow_none=True)
    valid_until = fields.Date(load_default=None, allow_none=True)
    reasons = optional_text(2000, metadata={"description": "不予共享的理由"})

    @validates_schema
    def _check(self, data, **_):
        errors: dict = {}
        if data.get("decision") == "approve":
            if is_blank(data.get("scope")):
                errors["scope"] = ["同意共享时必须填写使用范围"]
            check_period(data, errors)
        elif is_blank(data.get("reasons")):
            errors["reasons"] = ["不予共享的，必须说明理由"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _out(self, data, **_):
        approve = data["decision"] == "approve"
        return {"decision": data["decision"],
                "scope": data["scope"].strip() if approve else None,
                "valid_from": _iso(data["valid_from"]) if approve else None,
                "valid_until": _iso(data["valid_until"]) if approve else None,
                "reasons": None if approve else data["reasons"].strip()}


class NegotiationForm(_RequestedPeriod):
    """部门协商 (宝鸡 art. 16; 南通 art. 27): the applicant records the outcome."""

    negotiation_outcome = choice(["agreed", "failed", "abandoned"],
                                 {"agreed": "协商一致", "failed": "协商未果", "abandoned": "放弃申请"},
                                 required=True)
    negotiation_note = optional_text(2000, metadata={"description": "协商情况说明"})
    scope = optional_text(1000)
    valid_from = fields.Date(load_default=None, allow_none=True)
    valid_until = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _check(self, data, **_):
        errors: dict = {}
        outcome = data.get("negotiation_outcome")
        if outcome == "agreed":
            if is_blank(data.get("scope")):
                errors["scope"] = ["协商一致时必须填写约定的使用范围"]
            check_period(data, errors)
        elif outcome == "failed" and is_blank(data.get("negotiation_note")):
            errors["negotiation_note"] = ["协商未果时必须说明分歧，供主管部门协调"]
        if errors:
            raise ValidationError(errors)

    @post_load
    def _out(self, data, **_):
        agreed = data["negotiation_outcome"] == "agreed"
        out = {"negotiation_outcome": data["negotiation_outcome"],
               "negotiation_note": (data.get("negotiation_note") or "").strip() or None}
        if agreed:
            out.update(scope=data["scope"].strip(), valid_from=_iso(data["valid_from"]),
                       valid_until=_iso(data["valid_until"]), reasons=None)
        return out


class AgreementForm(Schema):
    """三方共享交换协议 (西城 art. 26) / 安全保密协议 (西城 art. 31): which agreement, signed when."""

    agreement_no = required_text(100, metadata={"description": "协议编号"})
    signed_on = fields.Date(required=True)
    note = optional_text(1000)

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


class SuperviseForm(Schema):
    """督办: the office records what it did about the overdue task."""

    supervision_opinion = required_text(2000, metadata={"description": "督办意见"})

    @post_load
    def _out(self, data, **_):
        return {"supervision_opinion": data["supervision_opinion"].strip()}


FORMS = {
    "formal_review_form": FormalReviewForm,
    "amend_application_form": AmendApplicationForm,
    "authorisation_decision_form": AuthorisationDecisionForm,
    "negotiation_form": NegotiationForm,
    "three_party_agreement_form": ThreePartyAgreementForm,
    "confidentiality_agreement_form": ConfidentialityAgreementForm,
    "supervise_form": SuperviseForm,
    **CASE_FORMS,  # revocation, idle-grant review, demand, rectification, objection, catalogue review
}
# Forms whose decision is bounded by the applicant's requested period.
PERIOD_FORMS = frozenset({"authorisation_decision_form", "negotiation_form"})


def validator(schema_cls):
    def validate_data(data: dict) -> dict:
        return schema_cls().load(data or {})

    validate_data.__name__ = f"validate_{schema_cls.__name__}"
    return validate_data
