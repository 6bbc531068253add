"""A user task's web form, rendered from the marshmallow schema the engine validates with.

The schema (app/flows/forms.py, registered by name in the BPMN `form` property) is the single
source of the fields; this module only decides widgets, labels and which fields a decision
reveals. Validation stays in the schema: the page shows the schema's own field errors.
"""
from __future__ import annotations

import json
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
    # the case flows' task forms (app/flows/case_forms.py)
    "idle_action": _l("处理意见"), "provider_department_id": _l("转送至部门"), "demand_answer": _l("答复意见"),
    "reroute_action": _l("处理方式"), "published_entry_id": _l("已发布的目录条目"),
    "report": _l("整改情况报告"), "verification": _l("核查结论"), "opinion": _l("核查意见"),
    "circular_no": _l("通报或报告文号"), "circular_note": _l("上报或书面通报情况"),
    "verification_result": _l("核实结论"), "verification_note": _l("更正内容或核实说明"),
    "catalogue_review_result": _l("审核结论"), "revise_action": _l("处理方式"), "entry_id": _l("目录条目"),
    "changes": _l("变更内容（JSON）"), "change_note": _l("修改说明"),
    # the case flows' start forms
    "effective_date": _l("撤销生效日期"), "resource_name": _l("所需资源名称"),
    "rectified_department_id": _l("被通知整改的部门"), "violation_category": _l("违规情形"),
    "deadline": _l("整改期限（最后一日）"), "review_kind": _l("送审类型"),
    "law_or_mandate": _l("修订的法律法规或变化的职能"), "changed_on": _l("公布（变化）之日"),
    "description": _l("说明"),
}
# Where a field means something else in one form (by form name, or by flow for a start form).
FORM_LABELS = {
    "revocation_decision_form": {"reasons": _l("意见或不同意的理由")},
    "idle_grant_decision_form": {"reasons": _l("保留理由（如季节性应用）或收回说明")},
    "route_demand_form": {"note": _l("转送说明")},
    "demand_answer_form": {"reasons": _l("说明（不属于职责或无法发布的原因）")},
    "reroute_demand_form": {"note": _l("说明")},
    "catalogue_update_form": {"entry_id": _l("更新的目录条目"), "change_note": _l("更新说明")},
    "revocation": {"entry_id": _l("撤销发布的资源"), "reasons": _l("撤销理由")},
    "unpublished_demand": {"description": _l("需求说明（信息项、用途、频度等）"),
                           "provider_department_id": _l("提供部门")},
    "rectification": {"description": _l("问题描述")},
    "data_objection": {"entry_id": _l("有疑义的资源"), "items": _l("有疑义的信息项"),
                       "description": _l("疑义说明（哪些数据、发现的问题）")},
    "catalogue_review": {"entry_id": _l("送审的目录条目"), "change_note": _l("送审说明")},
}
# Hints under a field (by form name or flow).
FORM_HINTS = {
    "revocation": {"effective_date": _l("须晚于今天：撤销前须提前告知使用部门和主管部门（南通细则第十六条）")},
    "unpublished_demand": {"provider_department_id": _l("不清楚由哪个部门掌握的，可不选，由主管部门转送（西城办法第二十六条）")},
    "rectification": {"deadline": _l("留空按本辖区默认整改期限计算")},
    "catalogue_review": {"changes": _l('仅变更已发布条目时填写，JSON 对象，如 {"summary": "……", "update_cycle": "weekly"}；草稿条目请先修改后直接送审')},
    "revise_entry_form": {"changes": _l("仅变更已发布条目时填写（JSON 对象）")},
    "catalogue_update_form": {"changes": _l("仅变更已发布条目时填写（JSON 对象）")},
}
# Labels of the choices of start forms (the decisions' labels are workview.DECISION_LABELS).
CHOICE_LABELS = {
    **DECISION_LABELS,
    "review_kind": {"submission": _l("新增或变更目录条目"), "mandate_change": _l("法律法规修订或职能变化")},
    "violation_category": {
        "catalogue_not_maintained": _l("未按要求编制、注册或更新政务信息资源目录"),
        "data_not_provided": _l("未按规定向共享平台提供共享信息"),
        "data_inaccurate": _l("提供的数据不真实、不准确、不一致、未及时更新或无法使用"),
        "misuse": _l("将共享信息用于履职以外的目的、擅自转让第三方或开展经营活动"),
        "mismanagement": _l("共享信息管理失控，致使滥用、非授权使用、扩散或泄漏"),
        "excessive_collection": _l("随意采集、扩大采集范围或重复采集数据"),
        "refused_rectification": _l("对责令整改的问题拒不整改"),
        "other": _l("其他违反共享管理规定的行为"),
    },
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
REQUIRED_WHEN_SHOWN = {"scope", "valid_from", "valid_until", "reasons", "return_reasons", "amendment_note",
                       "provider_department_id", "change_note", "entry_id", "law_or_mandate", "changed_on"}
# Per form (or start form's flow): what a decision reveals there; None = always shown.
FORM_SHOWN_WHEN = {
    # The negotiation form reveals its agreed terms only for an agreement.
    "negotiation_form": {"scope": ("negotiation_outcome", "agreed"), "valid_from": ("negotiation_outcome", "agreed"),
                         "valid_until": ("negotiation_outcome", "agreed"),
                         "negotiation_note": ("negotiation_outcome", "failed")},
    "revocation_decision_form": {"reasons": None},  # an opinion may go with an approval too
    "reroute_demand_form": {"provider_department_id": ("reroute_action", "reroute")},
    "catalogue_review_form": {"return_reasons": ("catalogue_review_result", "return")},
    "revise_entry_form": {"changes": ("revise_action", "resubmit"), "change_note": ("revise_action", "resubmit")},
    "catalogue_review": {"entry_id": ("review_kind", "submission"), "changes": ("review_kind", "submission"),
                         "law_or_mandate": ("review_kind", "mandate_change"),
                         "changed_on": ("review_kind", "mandate_change")},
}


def label_for(key: str | None, name: str, fld=None) -> str:
    """A field's label in one form (`key`: the task form's name or the start form's flow)."""
    return (FORM_LABELS.get(key or "", {}).get(name) or LABELS.get(name)
            or (fld.metadata.get("description") if fld is not None else None) or name)


def choice_label(name: str, value) -> str:
    return CHOICE_LABELS.get(name, {}).get(value, value)


@dataclass
class FormField:
    name: str
    label: str
    widget: str                      # radio | select | textarea | text | date | checkboxes | number | json | file
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: object = None
    shown_when: tuple[str, str] | None = None
    hint: str | None = None


def schema_for(form_name: str | None):
    return FORMS.get(form_name) if form_name else None


def _choices(name: str, fld) -> list[tuple[str, str]] | None:
    for v in fld.validators:
        if isinstance(v, validate.OneOf):
            labels = CHOICE_LABELS.get(name, {})
            return [(str(c), labels.get(c, str(c))) for c in v.choices]
    return None


def _max_length(fld) -> int | None:
    for v in fld.validators:
        if isinstance(v, validate.Length) and v.max:
            return v.max
    return None


def build(form_name: str | None, defaults: dict, item_choices: list[str],
          options: dict[str, list[tuple[str, str]]] | None = None) -> list[FormField]:
    """The fields of a task's form, with `defaults` (e.g. the requested scope and period) filled in."""
    schema_cls = schema_for(form_name)
    if schema_cls is None:
        return []
    return build_schema(schema_cls, form_name, defaults, item_choices, options,
                        skip=lambda name: form_name in PERIOD_FORMS and name.startswith("requested_valid"))


def build_schema(schema_cls, key: str | None, defaults: dict, item_choices: list[str],
                 options: dict[str, list[tuple[str, str]]] | None = None, skip=None) -> list[FormField]:
    """The fields of any form schema (a task form, or a case flow's start form: `key` names it for
    labels and what each decision reveals). `options` turns a field into a list to pick from
    (departments, catalogue entries)."""
    options = options or {}
    shown = {**SHOWN_WHEN, **FORM_SHOWN_WHEN.get(key or "", {})}
    schema_fields = schema_cls().fields
    out = []
    for name, fld in schema_fields.items():
        if fld.dump_only or (skip and skip(name)):
            continue  # e.g. the platform fills the requested period in itself (app/flows/tasks.py)
        choices = _choices(name, fld)
        if name in options:
            widget, choices = "select", options[name]
        elif choices:
            widget = "radio" if len(choices) <= 4 else "select"
        elif isinstance(fld, fields.List):
            widget, choices = "checkboxes", [(i, i) for i in item_choices]
        elif isinstance(fld, fields.Date):
            widget = "date"
        elif isinstance(fld, fields.Integer):
            widget = "number"
        elif isinstance(fld, fields.Dict):
            widget = "json"
        else:
            widget = "textarea" if (_max_length(fld) or 0) > 200 else "text"
        when = shown.get(name)
        when = when if when and when[0] in schema_fields else None
        out.append(FormField(name=name, label=label_for(key, name, fld), widget=widget, choices=choices or [],
                             required=fld.required or (when is not None and name in REQUIRED_WHEN_SHOWN),
                             value=defaults.get(name), shown_when=when,
                             hint=FORM_HINTS.get(key or "", {}).get(name)))
    return out


def read(form_fields: list[FormField], form: MultiDict) -> dict:
    """The submitted values, shaped for the schema (lists for checkboxes, absent when blank)."""
    data: dict = {}
    for f in form_fields:
        if f.widget == "checkboxes":
            data[f.name] = form.getlist(f.name)
            continue
        value = (form.get(f.name) or "").strip()
        if value and f.widget == "json":
            try:
                data[f.name] = json.loads(value)
            except ValueError:
                data[f.name] = value  # the schema answers 格式不正确
        elif value:
            data[f.name] = value
    return data


def refill(form_fields: list[FormField], data: dict) -> None:
    """Show what was submitted again after a refused submission."""
    for f in form_fields:
        value = data.get(f.name)
        f.value = json.dumps(value, ensure_ascii=False) if f.widget == "json" and isinstance(value, dict) else value
