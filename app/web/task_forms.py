"""A user task's web form, rendered from the marshmallow schema the engine validates with.

The schema (app/flows/forms.py, registered by name in the BPMN `form` property) is the single
source of the fields; this module only decides widgets, labels and which fields a decision
reveals. Validation stays in the schema: the page shows the schema's own field errors.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate
from werkzeug.datastructures import MultiDict

from app.flows.forms import FORMS, PERIOD_FORMS
from app.web.workview import DECISION_LABELS

LABELS = {
    "decision": _l("审核意见"), "formal_review_result": _l("审查结论"), "return_reasons": _l("退回理由"),
    "amend_action": _l("处理方式"), "purpose": _l("用途（履职事项）"), "requested_scope": _l("申请的使用范围"),
    "legal_basis": _l("申请依据"), "items": _l("信息项"), "requested_valid_from": _l("申请使用期限（起）"),
    "requested_valid_until": _l("申请使用期限（止）"), "amendment_note": _l("补正说明"),
    "withdraw_reason": _l("撤回理由"), "scope": _l("批准的使用范围"), "valid_from": _l("使用期限（起）"),
    "valid_until": _l("使用期限（止）"), "reasons": _l("不予共享的理由"), "negotiation_outcome": _l("协商结果"),
    "negotiation_note": _l("协商情况说明"), "agreement_no": _l("协议编号"), "signed_on": _l("签订日期"),
    "note": _l("备注"), "supervision_opinion": _l("督办意见"),
}
# Fields a decision reveals (the schema requires them only for that decision).
SHOWN_WHEN = {
    "scope": ("decision", "approve"), "valid_from": ("decision", "approve"),
    "valid_until": ("decision", "approve"), "reasons": ("decision", "refuse"),
    "return_reasons": ("formal_review_result", "return"),
    "purpose": ("amend_action", "resubmit"), "requested_scope": ("amend_action", "resubmit"),
    "legal_basis": ("amend_action", "resubmit"), "items": ("amend_action", "resubmit"),
    "requested_valid_from": ("amend_action", "resubmit"), "requested_valid_until": ("amend_action", "resubmit"),
    "amendment_note": ("amend_action", "resubmit"), "withdraw_reason": ("amend_action", "withdraw"),
}
# Fields whose emptiness is an error for the decision that reveals them (marked * on the page).
REQUIRED_WHEN_SHOWN = {"scope", "valid_from", "valid_until", "reasons", "return_reasons", "amendment_note"}
# The negotiation form reveals its agreed terms only for an agreement.
_NEGOTIATION = {"scope": ("negotiation_outcome", "agreed"), "valid_from": ("negotiation_outcome", "agreed"),
                "valid_until": ("negotiation_outcome", "agreed"),
                "negotiation_note": ("negotiation_outcome", "failed")}


@dataclass
class FormField:
    name: str
    label: str
    widget: str                      # radio | textarea | text | date | checkboxes | number
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: object = None
    shown_when: tuple[str, str] | None = None


def schema_for(form_name: str | None):
    return FORMS.get(form_name) if form_name else None


def _choices(name: str, fld) -> list[tuple[str, str]] | None:
    for v in fld.validators:
        if isinstance(v, validate.OneOf):
            labels = DECISION_LABELS.get(name, {})
            return [(str(c), labels.get(c, str(c))) for c in v.choices]
    return None


def _max_length(fld) -> int | None:
    for v in fld.validators:
        if isinstance(v, validate.Length) and v.max:
            return v.max
    return None


def build(form_name: str | None, defaults: dict, item_choices: list[str]) -> list[FormField]:
    """The fields of a task's form, with `defaults` (e.g. the requested scope and period) filled in."""
    schema_cls = schema_for(form_name)
    if schema_cls is None:
        return []
    shown = {**SHOWN_WHEN, **(_NEGOTIATION if form_name == "negotiation_form" else {})}
    out = []
    for name, fld in schema_cls().fields.items():
        if fld.dump_only or (form_name in PERIOD_FORMS and name.startswith("requested_valid")):
            continue  # the platform fills the requested period in itself (app/flows/tasks.py)
        label = LABELS.get(name) or fld.metadata.get("description") or name
        choices = _choices(name, fld)
        if choices:
            widget = "radio"
        elif isinstance(fld, fields.List):
            widget, choices = "checkboxes", [(i, i) for i in item_choices]
        elif isinstance(fld, fields.Date):
            widget = "date"
        elif isinstance(fld, fields.Integer):
            widget = "number"
        else:
            widget = "textarea" if (_max_length(fld) or 0) > 200 else "text"
        when = shown.get(name) if shown.get(name, ("",))[0] in schema_cls().fields else None
        out.append(FormField(name=name, label=label, widget=widget, choices=choices or [],
                             required=fld.required or (when is not None and name in REQUIRED_WHEN_SHOWN),
                             value=defaults.get(name), shown_when=when))
    return out


def read(form_fields: list[FormField], form: MultiDict) -> dict:
    """The submitted values, shaped for the schema (lists for checkboxes, absent when blank)."""
    data: dict = {}
    for f in form_fields:
        if f.widget == "checkboxes":
            data[f.name] = form.getlist(f.name)
            continue
        value = (form.get(f.name) or "").strip()
        if value:
            data[f.name] = value
    return data


def refill(form_fields: list[FormField], data: dict) -> None:
    """Show what was submitted again after a refused submission."""
    for f in form_fields:
        f.value = data.get(f.name)
